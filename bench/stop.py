"""The stop under load, as users run it: the real `monitoringApp.py -m --plain` with N http
monitors at 1 s against nginx on loopback, stopped by SIGTERM; then, from outside, the rows
in its database beside the count its last line gives.

    python -m bench.stop                 # 5,000 monitors for 30 s
    python -m bench.stop --quick         # a smoke run

Prints how long the stop took, how far behind the writer was at the signal (the age of the
newest stored check), the rows beside the last line's count, and the "writing N left" lines
the stop printed. Installs nginx-light from Debian when it is missing.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.peers import ensure_packages, nginx
from bench.run import FIGURES, figure

ROOT = Path(__file__).resolve().parent.parent


def rows_in(db: Path) -> tuple[int, float | None]:
    """(checks stored, the newest one's time), read as any other reader would."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        count, newest = conn.execute(
            "SELECT count(*), max(timestamp) FROM website_monitoring").fetchone()
        return count, newest
    finally:
        conn.close()


def run(base: str, folder: Path, sites: int, interval: float, seconds: float) -> dict:
    config = folder / "config.json"
    config.write_text(json.dumps({"websites": [
        {"URL": f"{base}/{i}", "checkInterval": interval, "timeout": 5}
        for i in range(sites)]}))
    db = folder / "stop.db"
    out = (folder / "stdout.txt").open("w")
    proc = subprocess.Popen([sys.executable, str(ROOT / "monitoringApp.py"), "-m", "--plain",
                             "-c", str(config), "-db", str(db)],
                            stdout=out, stderr=subprocess.PIPE, text=True, cwd=folder)
    err: list[tuple[float, str]] = []

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            err.append((time.monotonic(), line.rstrip("\n")))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        time.sleep(seconds)
        signalled_wall = time.time()
        _count, newest = rows_in(db)
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(600)  # the stop writes everything: bounded, but generously
        took = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        out.close()
    reader.join(5)
    lines = (folder / "stdout.txt").read_text().splitlines()
    match = re.search(r"^Stopped; (\d+) checks recorded", lines[-1] if lines else "")
    rows, newest_after = rows_in(db)
    progress = [line for _at, line in err if line.startswith("Stopping: ")]
    problems = [line for _at, line in err if not line.startswith("Stopping: ")]
    return {
        "exit": proc.returncode, "stop_s": took, "rows": rows,
        "last_line": int(match.group(1)) if match else None,
        "lag_at_signal_s": signalled_wall - newest if newest else None,
        # Checks measured up to the signal are in the database: the newest stored is
        # about as recent as the signal (a check ends at most its timeout after it).
        "newest_after_stop_s": signalled_wall - newest_after if newest_after else None,
        "expected": sites * seconds / interval, "progress": progress, "problems": problems,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument("--sites", type=int, default=5000)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=30.0, help="monitoring before SIGTERM")
    args = parser.parse_args()
    if args.quick:
        args.sites, args.seconds = 200, 5.0
    ensure_packages(["nginx"])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        with nginx(folder) as (base, _pid, _status):
            result = run(base, folder, args.sites, args.interval, args.seconds)
    lost = None if result["last_line"] is None else result["last_line"] - result["rows"]
    figure("stop_seconds", result["stop_s"], "s", sites=args.sites, interval=args.interval,
           monitored_s=args.seconds, exit=result["exit"])
    figure("stop_rows_vs_last_line", result["rows"], "rows", last_line=result["last_line"],
           last_line_minus_rows=lost,
           share_of_schedule=round(result["rows"] / result["expected"], 3))
    figure("stop_writer_lag_at_signal_s", result["lag_at_signal_s"] or 0.0, "s",
           progress_lines=len(result["progress"]),
           newest_stored_before_signal_s=round(result["newest_after_stop_s"] or 0.0, 3))
    losses = [line for line in result["problems"]
              if re.search(r"dropp|not written|lost|left to finish", line)]
    print(f"{args.sites} http monitors at {args.interval:g} s on nginx, SIGTERM after "
          f"{args.seconds:g} s:")
    print(f"  stop took {result['stop_s']:.1f} s (exit {result['exit']}); the writer was "
          f"{result['lag_at_signal_s'] or 0:.1f} s behind at the signal")
    print(f"  rows in the database {result['rows']}, last line says {result['last_line']}"
          f" (difference {lost}); {result['rows'] / result['expected']:.1%} of the schedule")
    print(f"  newest stored check {result['newest_after_stop_s'] or 0:.1f} s before the"
          f" signal (was {result['lag_at_signal_s'] or 0:.1f} s at it); "
          f"{len(losses)} line(s) saying checks were dropped or lost")
    for line in result["progress"]:
        print(f"  stderr: {line}")
    for line in result["problems"][:10]:
        print(f"  stderr: {line}")
    for entry in FIGURES:
        print(json.dumps(entry))
    if result["exit"] != 0 or lost != 0 or losses:
        sys.exit(1)


if __name__ == "__main__":
    main()
