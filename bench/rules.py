"""The alert rules' cost per check: `AlertEvaluator.record` with no rule but the window's,
and with every rule set, beside the evaluator before the rules (read from git at
REFERENCE, run on the same checks in the same process).

    python -m bench.rules [--monitors N] [--checks N] [--reference COMMIT]
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType

from monitor.alerts import AlertEvaluator
from monitor.checks.http.spec import http_monitor
from monitor.core.model import CheckResult
from monitor.core.rules import AlertRules

REFERENCE = "5d57c55"  # the last commit before the alert rules
MOVED = (("from monitor.checks import CheckResult, Monitor",
          "from monitor.core.model import CheckResult, Monitor"),
         ("from monitor.secrets import", "from monitor.core.secrets import"))
ROOT = Path(__file__).resolve().parent.parent
RULES = AlertRules(alert_after=(3, 5), recover_after=3, remind_every=60.0, flap_limit=5,
                   flap_window=300.0, min_checks=3)


def reference(commit: str) -> ModuleType | None:
    """The evaluator module as it was at `commit`, or None without git."""
    try:
        source = subprocess.run(["git", "show", f"{commit}:monitor/alerts/__init__.py"],
                                cwd=ROOT, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    # Its imports, from the modules those names live in now.
    for old, new in MOVED:
        source = source.replace(old, new)
    path = Path(tempfile.mkdtemp()) / "old_alerts.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_alerts", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_alerts"] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True, slots=True)
class _Then:
    """A check as the reference's evaluator reads it (its id was `monitor` then)."""

    monitor: str
    available: bool | None
    mono: float


def checks(monitors: int, count: int, seed: int = 1) -> list[CheckResult]:
    """`count` checks spread over `monitors`, one a second each, 10% failures in bursts."""
    rng = random.Random(seed)
    out = []
    down = [False] * monitors
    for i in range(count):
        m = i % monitors
        if rng.random() < 0.02:
            down[m] = not down[m]
        ok = not down[m] and rng.random() > 0.05
        at = 1_800_000_000.0 + i / monitors
        out.append(CheckResult(f"http://site-{m}.test/", at, ok, 200 if ok else None, 5.0,
                               None if ok else "connect", "" if ok else "refused",
                               mono=at - 1_800_000_000.0))
    return out


def run(evaluator_class: type, monitors: list, results: list[CheckResult],
        ) -> tuple[float, int]:
    """CPU seconds per check of `record`, and the events raised."""
    clock = [0.0]
    evaluator = evaluator_class(clock=lambda: 1_800_000_000.0 + clock[0],
                                mono=lambda: clock[0])
    evaluator.configure(monitors)
    events = 0
    started = time.process_time()
    for result in results:
        clock[0] = result.mono
        raised = evaluator.record(result)
        events += len(raised) if isinstance(raised, list) else raised is not None
    return (time.process_time() - started) / len(results), events


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--checks", type=int, default=300_000)
    parser.add_argument("--reference", default=REFERENCE)
    args = parser.parse_args(argv)
    results = checks(args.monitors, args.checks)
    plain = [http_monitor(f"http://site-{m}.test/", interval=1.0) for m in range(args.monitors)]
    ruled = [replace(monitor, rules=RULES) for monitor in plain]
    old = reference(args.reference)
    then = [_Then(r.monitor_id, r.available, r.mono) for r in results]
    rows = []
    for _ in range(3):  # alternated, so that a noisy moment hits every case
        if old is not None:
            rows.append(("before the rules (" + args.reference + ")",
                         *run(old.AlertEvaluator, plain, then)))
        rows.append(("window rule only", *run(AlertEvaluator, plain, results)))
        rows.append(("every rule set", *run(AlertEvaluator, ruled, results)))
    best: dict[str, tuple[float, int]] = {}
    for name, cost, events in rows:
        if name not in best or cost < best[name][0]:
            best[name] = (cost, events)
    print(f"{args.checks:,} checks of {args.monitors:,} monitors, best of 3 runs,"
          " CPU per check of record():")
    base = next((cost for name, (cost, _) in best.items() if name.startswith("before")), None)
    for name, (cost, events) in best.items():
        ratio = f"  x{cost / base:.2f}" if base else ""
        print(f"  {name:<32} {cost * 1e6:6.2f} us{ratio}   ({events:,} events)")
    if old is None:
        print("  (no reference: git or the commit is not available)", file=sys.stderr)


if __name__ == "__main__":
    main()
