"""The owner's writer folds checks into aggregates and states after their commit and writes
those every few seconds: a crash in between loses no count and counts nothing twice
(monitor/store/folds.py, the same for both stores). On both stores (the
`backend` fixture). The crashes are real: a writing process ends with os._exit, no close,
no flush."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from monitor.core.model import CheckResult
from monitor.store.codec import MinuteAgg
from tests.store.conftest import Backend

# A whole minute of the present, two minutes ago: no rollup of the hour yet.
BASE = float(int(time.time() // 60) * 60 - 120)
MONITORS = ("a", "b", "c")

# Writes `count` checks a second apart from `start` for each monitor, waits until they are
# committed, optionally flushes first (the folds written), then dies at once.
_WRITER = textwrap.dedent("""
    import importlib, os, sys, time
    from monitor.core.model import CheckResult
    db, start, count, flush_first = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    Store = importlib.import_module(sys.argv[5] + ".writer").Store
    store = Store(db).start()
    def put(first, n):
        for i in range(first, first + n):
            for m in {monitors!r}:
                store.put_check(CheckResult(m, start + i, i % 7 != 0, 200, 10.0 + i,
                                            None if i % 7 else "http_status", mono=i))
    def wait(total):
        while store.written.checks < total * {n}:
            time.sleep(0.001)
    # The first batch's folds are written at once; flushed, so are the first half's.
    half = count // 2 if flush_first == "yes" else 1
    put(0, half)
    wait(half)
    if flush_first == "yes":
        assert store.flush(30)
    put(half, count - half)
    wait(count)
    os._exit(0)
""").format(monitors=MONITORS, n=len(MONITORS))


def crash_after_writing(backend: Backend, start: float, count: int, flush_first: bool) -> None:
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", _WRITER, backend.where, str(start), str(count),
                    "yes" if flush_first else "no", backend.package], check=True, cwd=root,
                   timeout=60)


def unfolded(backend: Backend) -> str | None:
    row = backend.read("SELECT value FROM meta WHERE key = 'unfolded'")
    return None if not row else row[0][0]


def counts(backend: Backend) -> tuple[dict, dict, dict]:
    """Per monitor: checks and up by the raw rows, by the minute rows, and the state's
    last check and day counts."""
    raw = {m: (n, up) for m, n, up in backend.read(
        "SELECT monitor, count(*), sum(available) FROM website_monitoring GROUP BY monitor")}
    minutes = {m: (n, up) for m, n, up in backend.read(
        "SELECT monitor, sum(checks), sum(up) FROM aggregates WHERE span = 60"
        " GROUP BY monitor")}
    states = {m: (last, checks, up) for m, last, checks, up in backend.read(
        "SELECT monitor, last_check, day_checks, day_up FROM monitor_state")}
    return raw, minutes, states


def test_a_crash_before_the_folds_are_written_loses_no_count(backend: Backend) -> None:
    crash_after_writing(backend, BASE, 40, flush_first=False)
    # The crash came between the raw rows' commit and the folds' write.
    assert unfolded(backend) is not None
    raw, minutes, _ = counts(backend)
    assert raw == {m: (40, 34) for m in MONITORS}
    # The first batch's folds are written at once, the later ones were not yet.
    assert all(minutes.get(m, (0, 0))[0] < 40 for m in MONITORS), minutes
    store = backend.make().start()
    assert store.flush(30)
    store.close()
    raw, minutes, states = counts(backend)
    assert minutes == raw
    assert states == {m: (BASE + 39, 40, 34) for m in MONITORS}
    assert unfolded(backend) is None


def test_a_crash_after_some_folds_were_written_counts_nothing_twice(backend: Backend) -> None:
    crash_after_writing(backend, BASE, 40, flush_first=True)
    assert unfolded(backend) is not None
    raw, minutes, _ = counts(backend)
    assert minutes == {m: (20, 17) for m in MONITORS}  # the first half, flushed
    store = backend.make().start()
    # Checks after the restart add to the same minute rows.
    for m in MONITORS:
        store.put_check(_check(m, BASE + 45))
    assert store.flush(30)
    store.close()
    raw, minutes, states = counts(backend)
    assert raw == {m: (41, 35) for m in MONITORS}
    assert minutes == raw
    assert states == {m: (BASE + 45, 41, 35) for m in MONITORS}


def test_a_writer_beside_the_owner_writes_its_folds_with_its_rows(backend: Backend) -> None:
    """`serve` and `logs` (no rollups) must not share the owner's meta key: their folds
    are written in the batch's own transaction."""
    store = backend.make(rollups=False).start()
    store.put_check(_check("a", BASE + 1))
    assert store.flush(30)
    assert unfolded(backend) is None
    raw, minutes, _ = counts(backend)
    assert minutes == raw == {"a": (1, 1)}
    store.close()
    assert spans(backend) == expected_spans([_check("a", BASE + 1)])


def test_the_owner_writes_its_folds_at_a_flush_and_names_its_unfolded_rows(
        backend: Backend) -> None:
    store = backend.make().start()
    for i in range(5):
        store.put_check(_check("a", BASE + i))
    assert store.flush(30)
    assert unfolded(backend) is None  # a flush writes the folds and empties the list
    store.put_check(_check("a", BASE + 10))
    while store.written.checks < 6:
        time.sleep(0.001)
    # Committed, its folds not written yet (FOLD_EVERY has not passed): named in meta.
    assert unfolded(backend) == f"[[{5}, {6}]]"
    store.close()
    raw, minutes, _ = counts(backend)
    assert minutes == raw == {"a": (6, 6)}
    assert unfolded(backend) is None
    assert spans(backend) == expected_spans([_check("a", BASE + i) for i in (0, 1, 2, 3, 4, 10)])


def _check(monitor_id: str, ts: float) -> CheckResult:
    return CheckResult(monitor_id, ts, True, 200, 12.0, mono=ts - BASE)


def spans(backend: Backend) -> dict[tuple[str, int, int], MinuteAgg]:
    """The minute and 10-minute rows, whole (not only their counts)."""
    return {(monitor_id, span, start): MinuteAgg.from_row(row)
            for monitor_id, span, start, *row in backend.read(
                "SELECT monitor, span, start, checks, up, rt_count, rt_sum, rt_min, rt_max,"
                " hist, outcomes FROM aggregates WHERE span IN (60, 600)")}


def expected_spans(checks: list[CheckResult]) -> dict[tuple[str, int, int], MinuteAgg]:
    out: dict[tuple[str, int, int], MinuteAgg] = {}
    for c in checks:
        for span in (60, 600):
            key = (c.monitor_id, span, int(c.timestamp // span) * span)
            out.setdefault(key, MinuteAgg()).add(c.response_ms, c.available, c.code, c.reason,
                                                 c.warning)
    return out


_STOPPER = textwrap.dedent("""
    import importlib, sys
    from monitor.core.model import CheckResult
    db, start, package = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    aggregates = importlib.import_module(package + ".aggregates")
    Store = importlib.import_module(package + ".writer").Store
    aggregates.METRIC_CHUNK = 2  # "a minute of many monitors": more than a chunk held
    store = Store(db).start()
    for i in range(5):
        for m in "abc":
            store.put_check(CheckResult(m, start + i, True, 200, 10.0, mono=i,
                                        metrics={"total": 10.0 + i}))
    store.close()
""")


def test_a_stop_leaves_a_big_minute_of_metrics_to_the_next_start(backend: Backend) -> None:
    """Summing a minute of 100,000 monitors' phase times takes seconds: a stop leaves them
    to the next start, which sums them from their raw rows, each once."""
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", _STOPPER, backend.where, str(BASE), backend.package],
                   check=True, cwd=root, timeout=60)

    def summed() -> dict:
        return {m: (n, s) for m, n, s in backend.read(
            "SELECT monitor, sum(count), sum(sum) FROM metric_aggs WHERE span = 60"
            " AND metric = 'total' GROUP BY monitor")}

    assert summed() == {}
    assert backend.read("SELECT value FROM meta WHERE key = 'unsummed'")
    store = backend.make().start()
    assert store.flush(30)
    store.close()
    assert summed() == {m: (5, 60.0) for m in MONITORS}
    assert not backend.read("SELECT value FROM meta WHERE key = 'unsummed'")
