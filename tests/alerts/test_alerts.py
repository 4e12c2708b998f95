"""Alert logic with an injected clock: exact boundaries, no sleeps."""

import pytest

from monitor.alerts import AlertEvaluator, Restored
from monitor.core.model import CheckResult
from monitor.core.timefmt import format_duration
from tests.conftest import make_site

URL = "http://site.test/"
T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z


M0 = 5_000.0  # the monotonic clock has its own origin


class Clock:
    """A wall clock (`now`) and a monotonic one (`mono`), moved together unless a test
    steps the wall clock on its own."""

    def __init__(self, now: float = T0) -> None:
        self.now = now
        self.mono = M0
        self.step = 0.0  # wall minus its undisturbed value

    def set(self, at: float) -> None:
        """Move to `at` seconds as the undisturbed wall clock counts them."""
        self.mono = M0 + at - T0
        self.now = at + self.step

    def __call__(self) -> float:
        return self.now


def evaluator(window=120.0, threshold=0.8):
    clock = Clock()
    alerts = AlertEvaluator(clock=clock, mono=lambda: clock.mono)
    alerts.configure([make_site(URL, window=window, threshold=threshold)])
    return alerts, clock


def result(clock, ok, url=URL):
    return CheckResult(url, clock.now, ok, 200 if ok else None, 5.0, mono=clock.mono)


def one(events):
    """The one event a check raised, or None (with no rule but the window's, a check
    raises at most one)."""
    assert len(events) <= 1, events
    return events[0] if events else None


def feed(alerts, clock, at, ok):
    clock.set(at)
    return one(alerts.record(result(clock, ok)))


def availability(alerts, clock, at):
    clock.set(at)
    return alerts.availability(URL)


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
    assert availability(alerts, clock, T0 + total - 1) == ups / total


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
    assert availability(alerts, clock, T0 + 10) == 0.5
    # A hair later it is out.
    assert availability(alerts, clock, T0 + 10.000001) == 1.0


def test_checks_finishing_out_of_order_are_ordered_by_their_time():
    alerts, clock = evaluator(window=10.0, threshold=0.5)
    clock.set(T0 + 12)
    alerts.record(CheckResult(URL, T0 + 11, True, 200, 1.0, mono=M0 + 11))
    alerts.record(CheckResult(URL, T0 + 1, False, None, 10_000.0, mono=M0 + 1))  # slow, old
    # The old failure is outside [T0+2, T0+12] and is pruned: no alert.
    assert not alerts.is_alerting(URL)
    assert availability(alerts, clock, T0 + 12) == 1.0


def test_restore_keeps_an_open_alert_and_its_start():
    alerts, clock = evaluator(window=10.0)
    alerts.restore(URL, Restored(T0 - 100, checks=[(T0 - 5, False), (T0 - 4, False)]))
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
    alerts = AlertEvaluator(clock=lambda: T0, mono=lambda: M0)
    url = "https://admin:hunter2@secret.test/"
    site = make_site(url)
    alerts.configure([site])
    event = one(alerts.record(CheckResult(site.id, T0, False, None, 1.0, mono=M0)))
    assert "hunter2" not in event.message
    assert "https://admin:***@secret.test/" in event.message


def run_pattern(step_at=None, step=0.0, window=10.0, threshold=0.8):
    """Feed a fixed pattern of checks, one a second; optionally step the wall clock by
    `step` seconds before check number `step_at`. Return (index, type, message) of events."""
    alerts, clock = evaluator(window=window, threshold=threshold)
    pattern = [True] * 12 + [False] * 6 + [True] * 20 + [False] * 3 + [True] * 10
    events = []
    for i, ok in enumerate(pattern):
        if i == step_at:
            clock.step = step
        event = feed(alerts, clock, T0 + i, ok)
        if event is not None:
            events.append((i, event.type, event))
    return events


@pytest.mark.parametrize("step", [-3600.0, -5.0, 5.0, 3600.0, 86400.0])
@pytest.mark.parametrize("step_at", [5, 14, 20, 30])
def test_a_wall_clock_step_changes_no_alert_decision(step, step_at):
    # The same checks with and without the wall clock jumping: alerts and recoveries come
    # at the same checks, and the outage lasts as long, because windows are monotonic.
    expected = run_pattern()
    stepped = run_pattern(step_at, step)
    assert [(i, kind) for i, kind, _ in stepped] == [(i, kind) for i, kind, _ in expected]
    assert [i for i, _, _ in expected] == [14, 26, 40, 49]  # the pattern does alert and recover
    for (_, _, plain), (i, kind, event) in zip(expected, stepped, strict=True):
        if kind == "recovery":
            assert event.message.endswith(plain.message.rpartition(", for ")[2])
        # Times printed are the (stepped) wall clock: what the user's clock says.
        assert event.time == plain.time + (step if i >= step_at else 0.0)


def test_restore_after_a_wall_clock_step_uses_the_offset_at_restore():
    # Rows written before a restart are placed in the window by their age in wall time
    # at the moment of the restart.
    alerts, clock = evaluator(window=10.0)
    clock.step = -3600.0  # the wall clock was stepped back an hour before the restart
    clock.set(T0)
    wall = clock.now
    alerts.restore(URL, Restored(checks=[(wall - 9, False), (wall - 8, True),
                                         (wall - 20, False)]))
    assert availability(alerts, clock, T0) == 0.5  # the row 20 s old is out
    assert availability(alerts, clock, T0 + 1.5) == 1.0  # 10.5 s old: out
    assert availability(alerts, clock, T0 + 2.01) is None


def test_restore_after_the_clock_stepped_back_recovers_on_schedule():
    # The site was down for ten minutes, stored while the wall clock was an hour ahead; the
    # clock is corrected, then the monitor restarts. Placed by their age at the newest
    # stored check, the failures leave the window as successes come, one window's worth.
    alerts, clock = evaluator(window=120.0)
    clock.set(T0)
    ahead = clock.now + 3600.0
    rows = [(ahead - 600 + i, False) for i in range(600)]
    alerts.restore(URL, Restored(ahead - 600, checks=rows), now=ahead)
    assert alerts.is_alerting(URL)
    assert availability(alerts, clock, T0) == 0.0
    events = [(t, feed(alerts, clock, T0 + t, True)) for t in range(1, 200)]
    recoveries = [(t, e) for t, e in events if e is not None]
    assert [e.type for _, e in recoveries] == ["recovery"]
    # At t, the window holds t successes and the 120 - t newest failures: 0.8 at t = 96.
    assert recoveries[0][0] == 96
    assert recoveries[0][1].message.endswith("for 11m36s")


def test_a_monitor_with_its_own_id_is_named_by_its_url_in_messages():
    alerts = AlertEvaluator(clock=lambda: T0, mono=lambda: M0)
    site = make_site("https://shop.example/health", id="shop")
    alerts.configure([site])
    event = one(alerts.record(CheckResult("shop", T0, False, None, 1.0, mono=M0)))
    assert event.monitor_id == "shop"
    assert event.message.startswith("Website https://shop.example/health is down.")
