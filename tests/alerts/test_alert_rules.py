"""The alert rules on an injected clock: alertAfter, recoverAfter, alertMinChecks,
remindEvery, flapping, warnings, their combinations, and a restart in the middle of each."""

from dataclasses import replace

import pytest

from monitor.alerts import AlertEvaluator, Restored
from monitor.core.model import CheckResult
from monitor.core.rules import AlertRules
from tests.alerts.test_alerts import M0, T0, URL, Clock
from tests.conftest import make_site


def evaluator(window=120.0, threshold=0.8, interval=1.0, **rules):
    clock = Clock()
    alerts = AlertEvaluator(clock=clock, mono=lambda: clock.mono)
    site = replace(make_site(URL, window=window, threshold=threshold, interval=interval),
                   rules=AlertRules(**rules))
    alerts.configure([site])
    return alerts, clock


def check(clock, at, ok, warning=None):
    clock.set(at)
    if warning:
        return CheckResult(URL, clock.now, True, 200, 5.0, "tls_expiry", warning,
                           mono=clock.mono, warning=True)
    return CheckResult(URL, clock.now, ok, 200 if ok else None, 5.0,
                       None if ok else "connect", "" if ok else "refused", mono=clock.mono)


def run(alerts, clock, pattern, start=0, step=1.0):
    """Feed `pattern` ("." up, "x" down, "w" warning), one check each `step` seconds from
    T0 + start; return [(index, type)] of the events raised, in order."""
    events = []
    for i, mark in enumerate(pattern):
        raised = alerts.record(check(clock, T0 + start + i * step, mark != "x",
                                     "expires in 5.0 days" if mark == "w" else None))
        events += [(i, e.type) for e in raised]
    return events


# ------------------------------------------------------------------------- the window rule

def test_no_rule_set_is_the_window_rule_alone():
    # Today's rule: the first failure of a fresh monitor alerts (0% < 80%).
    alerts, clock = evaluator()
    assert run(alerts, clock, "x....") == [(0, "alert"), (4, "recovery")]  # 4/5 = 80%


def test_alert_min_checks_holds_the_first_alert_until_the_window_has_that_many():
    # The complaint: an alert 3 s after the start from four checks (3 up, 1 down =
    # 75% < 80%). With alertMinChecks 10 the window must hold ten checks first.
    alerts, clock = evaluator(min_checks=10)
    assert run(alerts, clock, "...x") == []
    # Below 80% from the 5th check on (3 of 5), but the alert waits for the 10th check:
    # 7 up of 10 = 70%.
    assert run(alerts, clock, "xx....", start=4) == [(5, "alert")]


def test_alert_min_checks_exactly_at_the_count():
    alerts, clock = evaluator(min_checks=3)
    assert run(alerts, clock, "xx") == []
    assert run(alerts, clock, "x", start=2) == [(0, "alert")]  # the 3rd check


# ----------------------------------------------------------------------------- alertAfter

def test_alert_after_three_in_a_row():
    alerts, clock = evaluator(alert_after=(3, 3))
    # A single failure and two in a row alert nothing, although the window is below 80%.
    assert run(alerts, clock, "x.xx.") == []
    assert run(alerts, clock, "xxx", start=5) == [(2, "alert")]


def test_alert_after_three_of_five():
    alerts, clock = evaluator(alert_after=(3, 5))
    assert run(alerts, clock, "x.x.") == []
    assert run(alerts, clock, "x", start=4) == [(0, "alert")]  # x.x.x: 3 of the last 5


def test_alert_after_three_of_five_forgets_the_sixth_check_back():
    alerts, clock = evaluator(alert_after=(3, 5), window=5.0, threshold=0.9)
    # x x . . . x: the last five hold two failures: no alert.
    assert run(alerts, clock, "xx...x") == []


def test_alert_after_and_the_window_must_both_agree():
    # 100 checks up, then three failures: three in a row, but the window is at 97%.
    alerts, clock = evaluator(alert_after=(3, 3), window=120.0, threshold=0.8)
    assert run(alerts, clock, "." * 100 + "xxx") == []
    # The window alone would have alerted long ago with alertAfter unset; here the first
    # alert comes when availability falls below 80% with the last three down.
    events = run(alerts, clock, "x" * 30, start=103)
    # At check 124 the window [4, 124] holds 121 checks, 96 up: 79.3% < 80%.
    assert events == [(21, "alert")]


# ---------------------------------------------------------------------------- recoverAfter

def test_recover_after_needs_successes_in_a_row():
    alerts, clock = evaluator(recover_after=3, window=4.0)
    assert run(alerts, clock, "x") == [(0, "alert")]
    # The window rule alone would recover at the first ".", here three in a row are needed.
    assert run(alerts, clock, "..x..", start=1) == []
    assert run(alerts, clock, ".", start=6) == [(0, "recovery")]


def test_recover_after_still_needs_the_window():
    alerts, clock = evaluator(recover_after=2, window=10.0, threshold=0.8)
    assert run(alerts, clock, "xxxx")[0] == (0, "alert")
    # Two successes in a row, but 2 of 6 in the window: wait for the window too.
    events = run(alerts, clock, "." * 20, start=4)
    # Window [t-10, t] has 11 checks; 4 failures leave it at t=13 (checks 3..13: 1 down
    # of 11 = 90.9%); at t=12 checks 2..12: 2 down = 81.8% >= 80%.
    assert events == [(8, "recovery")]


# ----------------------------------------------------------------------------- remindEvery

def test_reminders_while_the_alert_stays_open_and_none_after():
    alerts, clock = evaluator(remind_every=60.0, window=10.0)
    events = run(alerts, clock, "x" * 200)
    assert events == [(0, "alert"), (60, "reminder"), (120, "reminder"), (180, "reminder")]
    events = run(alerts, clock, "." * 200, start=200)
    assert events == [(8, "recovery")]  # window [198, 208]: 9 of 11 up


def test_a_reminder_says_how_long():
    alerts, clock = evaluator(remind_every=3600.0, window=10.0)
    run(alerts, clock, "x")
    raised = alerts.record(check(clock, T0 + 3700, False))
    assert [e.type for e in raised] == ["reminder"]
    assert raised[0].message == (
        "Website http://site.test/ is still down. availability=0.0%, "
        "time=2027-01-15T09:01:40Z; down since 2027-01-15T08:00:00Z, for 1h01m40s"
        " (connect: refused)")
    assert raised[0].start == T0 and raised[0].end is None


def test_reminders_follow_the_monotonic_clock():
    alerts, clock = evaluator(remind_every=60.0, window=10.0)
    run(alerts, clock, "x" * 30)
    clock.step = -3600.0  # the wall clock stepped back an hour: the reminder stays due
    assert run(alerts, clock, "x" * 40, start=30) == [(30, "reminder")]


# ---------------------------------------------------------------------------------- flapping

def test_flapping_is_reported_once_and_holds_alerts_until_it_settles():
    # The case: a target that flaps sent alert, recovery, alert, recovery.
    alerts, clock = evaluator(flap_limit=3, flap_window=60.0, window=4.0)
    events = run(alerts, clock, "x.x.x.x.x.x.x.")
    # Four changes (checks 1-4) are more than 3: flapping at check 4, reported once.
    # (The 4 s window alone would never have recovered: 50% at best.)
    assert events == [(0, "alert"), (4, "flapping")]
    # Steady down from check 14: it settles when at most 1 (3 // 2) change is left in
    # the 60 s: the one at 14, once the one at 13 is out (check 74). The alert, still
    # open, is not repeated.
    events = run(alerts, clock, "x" * 80, start=14)
    assert events == [(60, "settled")]
    assert alerts.is_alerting(URL)


def test_after_settling_the_held_recovery_is_sent():
    alerts, clock = evaluator(flap_limit=2, flap_window=30.0, window=4.0)
    events = run(alerts, clock, "x.x.x")
    assert events == [(0, "alert"), (3, "flapping")]
    events = run(alerts, clock, "." * 40, start=5)
    # Changes at checks 1-5: one left (5's) once 4's is out of the 30 s (check 35); the
    # window says up: the recovery held meanwhile is sent.
    assert events == [(30, "settled"), (30, "recovery")]


def test_flapping_message_and_settled_message():
    alerts, clock = evaluator(flap_limit=1, flap_window=600.0, window=4.0)
    raised = []
    for i, ok in enumerate([True, False, True]):
        raised += alerts.record(check(clock, T0 + i, ok))
    flap = [e for e in raised if e.type == "flapping"][0]
    assert flap.message == (
        "Website http://site.test/ is flapping: 2 changes between up and down in 10m00s;"
        " its alerts are held until it settles. time=2027-01-15T08:00:02Z")
    raised = alerts.record(check(clock, T0 + 603, True))
    # The alert the down check opened (1 of 2 up) recovers once it settled.
    assert [e.type for e in raised] == ["settled", "recovery"]
    assert raised[0].message == (
        "Website http://site.test/ has settled (up). time=2027-01-15T08:10:03Z;"
        " flapping since 2027-01-15T08:00:02Z, for 10m01s")


def test_a_monitor_that_goes_down_once_is_not_flapping():
    alerts, clock = evaluator(flap_limit=2, flap_window=60.0, window=10.0)
    assert run(alerts, clock, "....xxxxxxxxxxxxxxxxxx") == [(5, "alert")]  # 4 of 6 up


def test_no_reminders_while_flapping():
    alerts, clock = evaluator(flap_limit=2, flap_window=600.0, remind_every=10.0,
                              window=4.0)
    events = run(alerts, clock, "x.x.x" + "x" * 100)
    assert events == [(0, "alert"), (3, "flapping")]


# ---------------------------------------------------------------------------------- warnings

def test_a_warning_is_sent_once_and_cleared_once():
    alerts, clock = evaluator()
    assert run(alerts, clock, "..www.w..") == [(2, "warning"), (5, "cleared"),
                                                (6, "warning"), (7, "cleared")]


def test_a_monitor_both_warning_and_down_sends_the_down():
    alerts, clock = evaluator(window=10.0, threshold=0.8)
    events = run(alerts, clock, "wwxxxxwwwwwwwwwwwwww.")
    # The warning first; the down (an alert) while it warns; no warning is repeated after
    # the recovery, since it never stopped warning; the clearing at the first plain up.
    assert events == [(0, "warning"), (2, "alert"), (14, "recovery"), (20, "cleared")]


def test_no_warning_while_an_alert_is_open():
    alerts, clock = evaluator(window=10.0)
    events = run(alerts, clock, "xxww" + "w" * 10)
    assert [t for _, t in events] == ["alert", "recovery", "warning"]


def test_warning_message():
    alerts, clock = evaluator()
    raised = alerts.record(check(clock, T0, True, "certificate expires in 5.0 days"))
    assert raised[0].message == ("Website http://site.test/ warns: tls_expiry: certificate"
                                 " expires in 5.0 days. time=2027-01-15T08:00:00Z")


# ---------------------------------------------------------------------------------- restarts

class ProcessClock(Clock):
    """The clocks of another process: the same wall clock, a monotonic clock of its own
    origin."""

    def __init__(self, at: float, origin: float) -> None:
        super().__init__()
        self.origin = origin
        self.set(at)

    def set(self, at: float) -> None:
        self.mono = self.origin + at - T0
        self.now = at + self.step


def restarted(at, restored, **rules):
    """A new evaluator, in a new process at `at`, restored from `restored`."""
    clock = ProcessClock(at, origin=9_000_000.0)
    alerts = AlertEvaluator(clock=clock, mono=lambda: clock.mono)
    site = replace(make_site(URL, window=rules.pop("window", 120.0)), rules=AlertRules(**rules))
    alerts.configure([site])
    alerts.restore(URL, restored)
    return alerts, clock


def test_a_reminder_is_neither_repeated_nor_lost_across_a_restart():
    alerts, clock = evaluator(remind_every=60.0, window=10.0)
    assert run(alerts, clock, "x" * 70) == [(0, "alert"), (60, "reminder")]
    # Stopped after T0+69, started again at T0+100; the database says: an alert open since
    # T0, its latest reminder at T0+60.
    checks = [(T0 + i, False) for i in range(60, 70)]
    again, clock = restarted(T0 + 100, Restored(T0, reminded=T0 + 60, checks=checks),
                             remind_every=60.0, window=10.0)
    events = []
    for i in range(100, 200):
        events += [(i, e.type) for e in again.record(check(clock, T0 + i, False))]
    assert events == [(120, "reminder"), (180, "reminder")]


def test_flapping_survives_a_restart_without_a_second_report():
    alerts, clock = evaluator(flap_limit=2, flap_window=60.0, window=4.0)
    assert run(alerts, clock, "x.x.x.") == [(0, "alert"), (3, "flapping")]
    checks = [(T0 + i, i % 2 == 1) for i in range(6)]
    again, clock = restarted(T0 + 6, Restored(T0, checks=checks, flapping_start=T0 + 3),
                             flap_limit=2, flap_window=60.0, window=4.0)
    events = []
    for i in range(6, 80):
        events += [(i, e.type) for e in again.record(check(clock, T0 + i, True))]
    # No second "flapping"; the restored changes (checks 1-5) age out: one is left at
    # check 65, when it settles and the alert, restored open, recovers.
    assert events == [(65, "settled"), (65, "recovery")]


def test_alert_after_counts_carry_across_a_restart():
    alerts, clock = evaluator(alert_after=(3, 3), window=10.0)
    assert run(alerts, clock, "..xx") == []
    checks = [(T0, True), (T0 + 1, True), (T0 + 2, False), (T0 + 3, False)]
    again, clock = restarted(T0 + 4, Restored(checks=checks), alert_after=(3, 3),
                             window=10.0)
    assert [e.type for e in again.record(check(clock, T0 + 4, False))] == ["alert"]


def test_an_open_warning_is_not_repeated_after_a_restart():
    again, clock = restarted(T0 + 10, Restored(warning_start=T0, checks=[(T0, True)]))
    assert again.record(check(clock, T0 + 10, True, "expires in 4.0 days")) == []
    raised = again.record(check(clock, T0 + 11, True))
    assert [e.type for e in raised] == ["cleared"]
    assert raised[0].start == T0 and raised[0].message.endswith("for 11s")


# ------------------------------------------------------------------------- the event's names

@pytest.mark.parametrize(("kind", "event"), [("alert", "alert"), ("recovery", "recovery"),
                                             ("reminder", "reminder"), ("warning", "warning"),
                                             ("cleared", "warning"), ("flapping", "flapping"),
                                             ("settled", "flapping")])
def test_each_type_is_a_notification_event(kind, event):
    from monitor.alerts import AlertEvent
    assert AlertEvent(kind, URL, 1.0, T0, T0, None, "").event == event


def test_unknown_results_raise_nothing():
    alerts, clock = evaluator(remind_every=1.0, window=10.0)
    run(alerts, clock, "x")
    clock.set(T0 + 100)
    assert alerts.record(CheckResult(URL, T0 + 100, None, None, 1.0, "maintenance",
                                     "in maintenance; connect: refused", mono=M0 + 100)) == []


def test_a_monitor_of_another_kind_is_called_by_its_kind_and_target():
    from monitor.core.model import Monitor

    clock = Clock()
    alerts = AlertEvaluator(clock=clock, mono=lambda: clock.mono)
    alerts.configure([Monitor("disk:/var", "disk", "disk:/var"),
                      Monitor("https://u:pw@a.test/x?token=1", "http",
                              "https://u:pw@a.test/x?token=1")])
    clock.set(T0)
    disk = alerts.record(CheckResult("disk:/var", T0, False, None, 1.0, "threshold",
                                     "97% used", mono=clock.mono))
    assert disk[0].message == ("disk /var is down. availability=0.0%,"
                               " time=2027-01-15T08:00:00Z (threshold: 97% used)")
    site = alerts.record(CheckResult("https://u:pw@a.test/x?token=1", T0, False, None, 1.0,
                                     "connect", "refused", mono=clock.mono))
    assert site[0].message.startswith("Website https://u:***@a.test/x?token=*** is down.")


def test_removing_flap_limit_releases_a_flapping_monitor():
    alerts, clock = evaluator(flap_limit=2, flap_window=600.0, window=4.0)
    assert run(alerts, clock, "x.x.x") == [(0, "alert"), (3, "flapping")]
    alerts.configure([make_site(URL, window=4.0)])  # reloaded without flapLimit
    # The next check settles it (its verdict: down) and the rules apply again.
    assert run(alerts, clock, "x" + "." * 5, start=5) == [(0, "settled"), (4, "recovery")]


def test_a_restart_without_flap_limit_releases_a_restored_flapping():
    again, clock = restarted(T0 + 10, Restored(T0, checks=[(T0, False)],
                                               flapping_start=T0 + 3))
    raised = again.record(check(clock, T0 + 10, True))
    assert [e.type for e in raised] == ["settled"]  # the alert stays open: 1 up of 2
    assert raised[0].message.startswith("Website http://site.test/ has settled (up).")


def test_checks_before_a_maintenance_count_for_nothing_after_it():
    # An hour's window: failures before a maintenance would hold the alert open for up to
    # an hour after it; the checks made since are what the rules see.
    alerts, clock = evaluator(window=3600.0, alert_after=(3, 3))
    assert run(alerts, clock, "x" * 60, step=60.0) == [(2, "alert")]
    for i in range(60, 70):
        clock.set(T0 + i * 60.0)
        assert alerts.record(CheckResult(URL, clock.now, None, None, 1.0, "maintenance",
                                         "in maintenance; up", mono=clock.mono)) == []
    assert run(alerts, clock, "...", start=70 * 60, step=60.0) == [(0, "recovery")]
    # And a failure after it is the first of a new count: two more are needed.
    assert run(alerts, clock, "xx", start=73 * 60, step=60.0) == []
