"""The reads of a metrics scrape through the real writer of both stores (the `backend`
fixture), its clock injected: the day's checks by reason equal to the checks written,
before the day's first hour is rolled up, after many are, with a check written late into a
rolled hour, and from a past day on; the notifications waiting by provider."""

from __future__ import annotations

from collections.abc import Iterable

from monitor.core.model import CheckResult
from monitor.store.api import AlertRecord, Delivery, DeliveryDone, iso_utc
from monitor.store.codec import WARNING_MARK
from monitor.store.scrape import DayCounts
from monitor.store.sqlite.rollups import DAY, HOUR
from tests.store.conftest import Backend, reading
from tests.store.test_rollups import DAY0, MONITORS, feed, flush_at, history, meta


def expected(checks: Iterable[CheckResult], since: float) -> dict[str, DayCounts]:
    """What the aggregates count of the checks from `since` on (codec's rules: an unknown
    check is only its reason, a warning's reason is marked)."""
    found: dict[str, DayCounts] = {}
    for c in checks:
        if c.timestamp < since:
            continue
        counts = found.setdefault(c.monitor_id, DayCounts(0, 0, {}))
        if c.available is not None:
            counts = found[c.monitor_id] = DayCounts(counts.checks + 1,
                                                     counts.up + bool(c.available),
                                                     counts.reasons)
        if c.reason:
            key = WARNING_MARK + c.reason if c.warning else c.reason
            counts.reasons[key] = counts.reasons.get(key, 0) + 1
    return found


def day_counts(db: Backend, day: int) -> dict[str, DayCounts]:
    with reading(db) as reader:
        return reader.day_counts(day)


def rolled(db: Backend) -> int:
    return int(float(meta(db, "rolled_until")[0]))


def test_the_day_s_checks_whatever_the_rollups_hold(backend: Backend) -> None:
    db = backend
    checks = history(DAY0 - 3 * HOUR, DAY0 + 14.4 * HOUR)
    now = [0.0]
    early = [c for c in checks if c.timestamp < DAY0 + 1800]
    feed(db, early, now)
    # The day's first hour has not ended: its checks are in its blocks only.
    assert rolled(db) == DAY0
    assert day_counts(db, DAY0) == expected(early, DAY0)
    feed(db, checks[len(early):], now)
    assert rolled(db) == DAY0 + 14 * HOUR
    assert day_counts(db, DAY0) == expected(checks, DAY0)
    # From a past day on: its day row, today's, and the blocks after the last hour rolled.
    assert day_counts(db, DAY0 - DAY) == expected(checks, DAY0 - DAY)
    # A check written after its hour was rolled up is added to the hour and day rows: it
    # is counted once.
    late = CheckResult(MONITORS[0], DAY0 + 2 * HOUR + 5, False, None, 9.0, "timeout")
    flush_at(db, now[0], lambda store: store.put_check(late))
    assert day_counts(db, DAY0) == expected([*checks, late], DAY0)
    assert day_counts(db, DAY0)[MONITORS[0]].reasons["timeout"] \
        == expected(checks, DAY0)[MONITORS[0]].reasons["timeout"] + 1


def test_nothing_before_the_day_is_counted(backend: Backend) -> None:
    db = backend
    checks = history(DAY0 - 10 * HOUR, DAY0 - 1)
    feed(db, checks, [0.0])
    assert day_counts(db, DAY0) == {}
    assert day_counts(db, DAY0 - DAY) == expected(checks, DAY0 - DAY)


def test_notifications_waiting_by_provider(backend: Backend) -> None:
    store = backend.make().start()
    try:
        for i in range(3):
            providers = ("ops", "pager") if i < 2 else ("ops",)
            store.put_alert(AlertRecord(
                iso_utc(DAY0 + i), MONITORS[0], "alert", iso_utc(DAY0), None, 0.0, "down",
                deliveries=tuple(Delivery(p, "alert", "ALERT", "down") for p in providers)))
        assert store.flush()
        with reading(store) as reader:
            assert reader.notifications_waiting() == {"ops": 3, "pager": 2}
            pending = reader.pending_deliveries("pager", DAY0 + 10)
        store.put_delivery(DeliveryDone(pending[0].id, DAY0 + 11, None, None))  # sent
        store.put_delivery(DeliveryDone(pending[1].id, DAY0 + 11, "refused", None))  # failed
        assert store.flush()
        with reading(store) as reader:
            assert reader.notifications_waiting() == {"ops": 3}
    finally:
        store.close()
