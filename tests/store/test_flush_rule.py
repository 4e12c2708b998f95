"""One flush rule for both stores' writers (monitor/store/writing.py): an urgent flush waits
for the checks' aggregates and states too; a flush that is not urgent (an agent's batch, a
sender's mark) waits only for their commit, the aggregates following once FOLD_EVERY has
passed (monitor/store/folds.py). A writer that folds in the batch's own transaction (one
beside the owner; one of several monitors sharing a PostgreSQL database) has nothing left
to wait for. On both stores (`backend`); FOLD_EVERY turned up or down, never waited for."""

from __future__ import annotations

import pytest

from monitor.core.model import CheckResult
from monitor.store import folds
from tests.store.conftest import Backend

BASE = 1_700_000_040.0  # 14 minutes into its hour: the writer's clock rolls nothing up
CLOCK = BASE + 30


def check(ts: float) -> CheckResult:
    return CheckResult("a", ts, True, 200, 12.0, mono=ts - BASE)


def stored(backend: Backend) -> tuple[int, int]:
    """Checks of monitor a in the raw rows, and in its minute rows."""
    (raw,) = backend.read("SELECT count(*) FROM website_monitoring WHERE monitor = 'a'")
    (minutes,) = backend.read("SELECT coalesce(sum(checks), 0) FROM aggregates"
                              " WHERE monitor = 'a' AND span = 60")
    return int(raw[0]), int(minutes[0])


def test_a_flush_not_urgent_waits_for_the_commit_and_not_for_the_aggregates(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(folds, "FOLD_EVERY", 3600.0)  # none falls due during the test
    store = backend.make(clock=lambda: CLOCK).start()
    store.put_check(check(BASE))
    assert store.flush(30)  # urgent: the aggregates with the rows
    assert stored(backend) == (1, 1)
    for i in range(1, 5):
        store.put_check(check(BASE + i))
    assert store.flush(30, urgent=False)
    assert stored(backend) == (5, 1)  # committed; their aggregates not written yet
    assert backend.read("SELECT value FROM meta WHERE key = 'unfolded'")  # named meanwhile
    assert store.flush(30)
    assert stored(backend) == (5, 5)
    store.close()


def test_the_aggregates_follow_once_fold_every_has_passed(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(folds, "FOLD_EVERY", 0.0)  # due at every batch
    store = backend.make(clock=lambda: CLOCK).start()
    store.put_check(check(BASE))
    assert store.flush(30)
    for i in range(1, 5):
        store.put_check(check(BASE + i))
    assert store.flush(30, urgent=False)
    assert stored(backend) == (5, 5)
    store.close()


def test_a_writer_folding_in_its_batch_writes_the_aggregates_with_the_rows(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(folds, "FOLD_EVERY", 3600.0)
    # On PostgreSQL one of several monitors on the database (its aggregates added to what
    # the others write); on SQLite a writer beside the owner (`serve`, `logs`).
    shared = {"shared": True} if backend.name == "postgresql" else {"rollups": False}
    store = backend.make(clock=lambda: CLOCK, **shared).start()
    for i in range(5):
        store.put_check(check(BASE + i))
        assert store.flush(30, urgent=False)
        assert stored(backend) == (i + 1, i + 1)
    assert not backend.read("SELECT value FROM meta WHERE key = 'unfolded'")
    store.close()
