"""The owner's writer folds checks into aggregates and states after their commit and writes
those every few seconds: a crash in between loses no count and counts nothing twice
(monitor/store/sqlite/folds.py). The crashes are real: a writing process ends with
os._exit, no close, no flush."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from monitor.core.model import CheckResult
from monitor.store.sqlite.writer import Store

# A whole minute of the present, two minutes ago: no rollup of the hour yet.
BASE = float(int(time.time() // 60) * 60 - 120)
MONITORS = ("a", "b", "c")

# Writes `count` checks a second apart from `start` for each monitor, waits until they are
# committed, optionally flushes first (the folds written), then dies at once.
_WRITER = textwrap.dedent("""
    import os, sys, time
    from monitor.core.model import CheckResult
    from monitor.store.sqlite.writer import Store
    db, start, count, flush_first = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
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


def crash_after_writing(db: Path, start: float, count: int, flush_first: bool) -> None:
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", _WRITER, str(db), str(start), str(count),
                    "yes" if flush_first else "no"], check=True, cwd=root, timeout=60)


def unfolded(db: Path) -> str | None:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT value FROM meta WHERE key = 'unfolded'").fetchone()
    return None if row is None else row[0]


def counts(db: Path) -> tuple[dict, dict, dict]:
    """Per monitor: checks and up by the raw rows, by the minute rows, and the state's
    last check and day counts."""
    with sqlite3.connect(db) as conn:
        raw = {m: (n, up) for m, n, up in conn.execute(
            "SELECT monitor, count(*), sum(available) FROM website_monitoring GROUP BY monitor")}
        minutes = {m: (n, up) for m, n, up in conn.execute(
            "SELECT monitor, sum(checks), sum(up) FROM aggregates WHERE span = 60"
            " GROUP BY monitor")}
        states = {m: (last, checks, up) for m, last, checks, up in conn.execute(
            "SELECT monitor, last_check, day_checks, day_up FROM monitor_state")}
    return raw, minutes, states


def test_a_crash_before_the_folds_are_written_loses_no_count(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    crash_after_writing(db, BASE, 40, flush_first=False)
    # The crash came between the raw rows' commit and the folds' write.
    assert unfolded(db) is not None
    raw, minutes, _ = counts(db)
    assert raw == {m: (40, 34) for m in MONITORS}
    # The first batch's folds are written at once, the later ones were not yet.
    assert all(minutes.get(m, (0, 0))[0] < 40 for m in MONITORS), minutes
    store = Store(db).start()
    assert store.flush(30)
    store.close()
    raw, minutes, states = counts(db)
    assert minutes == raw
    assert states == {m: (BASE + 39, 40, 34) for m in MONITORS}
    assert unfolded(db) is None


def test_a_crash_after_some_folds_were_written_counts_nothing_twice(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    crash_after_writing(db, BASE, 40, flush_first=True)
    assert unfolded(db) is not None
    raw, minutes, _ = counts(db)
    assert minutes == {m: (20, 17) for m in MONITORS}  # the first half, flushed
    store = Store(db).start()
    # Checks after the restart add to the same minute rows.
    for m in MONITORS:
        store.put_check(_check(m, BASE + 45))
    assert store.flush(30)
    store.close()
    raw, minutes, states = counts(db)
    assert raw == {m: (41, 35) for m in MONITORS}
    assert minutes == raw
    assert states == {m: (BASE + 45, 41, 35) for m in MONITORS}


def test_a_writer_beside_the_owner_writes_its_folds_with_its_rows(tmp_path: Path) -> None:
    """`serve` and `logs` (no rollups) must not share the owner's meta key: their folds
    are written in the batch's own transaction."""
    db = tmp_path / "m.db"
    store = Store(db, rollups=False).start()
    store.put_check(_check("a", BASE + 1))
    assert store.flush(30)
    assert unfolded(db) is None
    raw, minutes, _ = counts(db)
    assert minutes == raw == {"a": (1, 1)}
    store.close()


def test_the_owner_writes_its_folds_at_a_flush_and_names_its_unfolded_rows(
        tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    store = Store(db).start()
    for i in range(5):
        store.put_check(_check("a", BASE + i))
    assert store.flush(30)
    assert unfolded(db) is None  # a flush writes the folds and empties the list
    store.put_check(_check("a", BASE + 10))
    while store.written.checks < 6:
        time.sleep(0.001)
    # Committed, its folds not written yet (FOLD_EVERY has not passed): named in meta.
    assert unfolded(db) == f"[[{5}, {6}]]"
    store.close()
    raw, minutes, _ = counts(db)
    assert minutes == raw == {"a": (6, 6)}
    assert unfolded(db) is None


def _check(monitor_id: str, ts: float) -> CheckResult:
    return CheckResult(monitor_id, ts, True, 200, 12.0, mono=ts - BASE)


_STOPPER = textwrap.dedent("""
    import sys
    from monitor.core.model import CheckResult
    from monitor.store.sqlite import aggregates
    from monitor.store.sqlite.writer import Store
    aggregates.METRIC_CHUNK = 2  # "a minute of many monitors": more than a chunk held
    db, start = sys.argv[1], float(sys.argv[2])
    store = Store(db).start()
    for i in range(5):
        for m in "abc":
            store.put_check(CheckResult(m, start + i, True, 200, 10.0, mono=i,
                                        metrics={"total": 10.0 + i}))
    store.close()
""")


def test_a_stop_leaves_a_big_minute_of_metrics_to_the_next_start(tmp_path: Path) -> None:
    """Summing a minute of 100,000 monitors' phase times takes seconds: a stop leaves them
    to the next start, which sums them from their raw rows, each once."""
    db = tmp_path / "m.db"
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", _STOPPER, str(db), str(BASE)], check=True,
                   cwd=root, timeout=60)

    def summed() -> dict:
        with sqlite3.connect(db) as conn:
            return {m: (n, s) for m, n, s in conn.execute(
                "SELECT monitor, sum(count), sum(sum) FROM metric_aggs WHERE span = 60"
                " AND metric = 'total' GROUP BY monitor")}

    assert summed() == {}
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key = 'unsummed'").fetchone()
    store = Store(db).start()
    assert store.flush(30)
    store.close()
    assert summed() == {m: (5, 60.0) for m in MONITORS}
    with sqlite3.connect(db) as conn:
        assert not conn.execute("SELECT value FROM meta WHERE key = 'unsummed'").fetchone()
