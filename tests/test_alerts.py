"""Alert logic with an injected clock: exact boundaries, no sleeps."""

import pytest

from monitor.alerts import AlertEvaluator, format_duration
from monitor.checks import CheckResult
from tests.conftest import make_site

URL = "http://site.test/"
T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def evaluator(window=120.0, threshold=0.8):
    clock = Clock()
    alerts = AlertEvaluator(clock=clock)
    alerts.configure([make_site(URL, window=window, threshold=threshold)])
    return alerts, clock


def feed(alerts, clock, at, ok):
    clock.now = at
    return alerts.record(CheckResult(URL, at, ok, 200 if ok else None, 5.0))


def test_at_the_threshold_is_not_an_alert_just_below_is():
    alerts, clock = evaluator(threshold=0.8)
    for i, ok in enumerate([True, True, True, True, False]):  # 4/5 = 0.8 exactly
        assert feed(alerts, clock, T0 + i, ok) is None
    event = feed(alerts, clock, T0 + 5, False)  # 4/6 < 0.8
    assert event is not None and event.type == "alert"
    assert event.availability == pytest.approx(4 / 6)
    assert event.message == (
        "Website http://site.test/ is down. availability=66.7%, time=2027-01-15T08:00:05Z")


@pytest.mark.parametrize(("ups", "total", "threshold"), [(7, 10, 0.7), (9, 10, 0.9),
                                                         (3, 10, 0.3), (29, 100, 0.29)])
def test_exact_threshold_has_no_floating_point_surprise(ups, total, threshold):
    # 0.7 * 10 == 7.000000000000001: a multiplication would call 7/10 an alert at 0.7.
    alerts, clock = evaluator(threshold=threshold)
    events = [feed(alerts, clock, T0 + i, i < ups) for i in range(total)]
    assert all(e is None or e.type != "alert" for e in events[ups:])
    assert alerts.availability(URL, T0 + total - 1) == ups / total


def test_first_check_failing_alerts_at_once():
    alerts, clock = evaluator()
    event = feed(alerts, clock, T0, False)
    assert event.type == "alert" and event.availability == 0.0


def test_no_repeated_alert_and_recovery_at_threshold():
    alerts, clock = evaluator(window=10.0, threshold=0.8)
    assert feed(alerts, clock, T0, False).type == "alert"
    for i in range(1, 5):
        assert feed(alerts, clock, T0 + i, False) is None
    # Failures age out of the 10 s window; the first time availability reaches 80%
    # exactly, the recovery is raised.
    events = [(i, feed(alerts, clock, T0 + i, True)) for i in range(5, 20)]
    recoveries = [(i, e) for i, e in events if e is not None]
    assert len(recoveries) == 1
    at, recovery = recoveries[0]
    # At T0+13: window [T0+3, T0+13] holds 2 failures and 9 successes (81.8%); at T0+12
    # it holds 3 failures (T0+2..4) and 8 successes = 72.7%.
    assert at == 13
    assert recovery.type == "recovery"
    assert recovery.start == T0 and recovery.end == T0 + 13
    assert recovery.message == (
        "Website http://site.test/ has recovered. availability=81.8%, "
        "time=2027-01-15T08:00:13Z; down since 2027-01-15T08:00:00Z, for 13s")


def test_window_boundary_is_inclusive():
    alerts, clock = evaluator(window=10.0, threshold=0.5)
    feed(alerts, clock, T0, False)  # alert
    feed(alerts, clock, T0 + 5, True)  # 1/2 = 0.5: at threshold -> recovery
    assert not alerts.is_alerting(URL)
    # At T0+10 the failure at T0 is exactly `window` old: still inside.
    assert alerts.availability(URL, T0 + 10) == 0.5
    # A hair later it is out.
    assert alerts.availability(URL, T0 + 10.000001) == 1.0


def test_checks_finishing_out_of_order_are_ordered_by_their_time():
    alerts, clock = evaluator(window=10.0, threshold=0.5)
    clock.now = T0 + 12
    alerts.record(CheckResult(URL, T0 + 11, True, 200, 1.0))
    alerts.record(CheckResult(URL, T0 + 1, False, None, 10_000.0))  # a slow, old one
    # The old failure is outside [T0+2, T0+12] and is pruned: no alert.
    assert not alerts.is_alerting(URL)
    assert alerts.availability(URL, T0 + 12) == 1.0


def test_restore_keeps_an_open_alert_and_its_start():
    alerts, clock = evaluator(window=10.0)
    alerts.restore(URL, T0 - 100, [(T0 - 5, False), (T0 - 4, False)])
    assert alerts.is_alerting(URL)
    assert feed(alerts, clock, T0, False) is None  # no repeated alert after a restart
    events = [feed(alerts, clock, T0 + i, True) for i in range(1, 30)]
    recovery = next(e for e in events if e is not None)
    assert recovery.type == "recovery" and recovery.start == T0 - 100


def test_removed_site_is_ignored_and_reconfigure_keeps_history():
    alerts, clock = evaluator(window=100.0, threshold=0.8)
    feed(alerts, clock, T0, False)
    assert alerts.is_alerting(URL)
    alerts.configure([make_site(URL, window=100.0, threshold=0.5)])
    assert alerts.is_alerting(URL)  # history kept across a reload
    alerts.configure([])
    assert feed(alerts, clock, T0 + 1, False) is None


def test_format_duration():
    assert [format_duration(s) for s in (0, 59.4, 61, 3600, 3725, 90061)] == [
        "0s", "59s", "1m01s", "1h00m00s", "1h02m05s", "1d01h01m"]


def test_messages_never_show_passwords():
    alerts = AlertEvaluator(clock=lambda: T0)
    url = "https://admin:hunter2@secret.test/"
    alerts.configure([make_site(url)])
    event = alerts.record(CheckResult(url, T0, False, None, 1.0))
    assert "hunter2" not in event.message
    assert "https://admin:***@secret.test/" in event.message
