"""Monitors checked from several locations: each location judged by the monitor's rules on
its own checks, the monitor down when `quorum` locations are at once (one alert naming
them), a location failing alone a warning; lost locations count neither way. Injected
clocks throughout."""

from dataclasses import replace

import pytest

from monitor.alerts import AlertEvaluator, AlertEvent, Restored
from monitor.core.model import CheckResult
from monitor.core.rules import AlertRules
from tests.alerts.test_alert_rules import ProcessClock
from tests.alerts.test_alerts import T0, URL, Clock
from tests.conftest import make_site

TIME = "2027-01-15T08:00:{:02d}Z"  # T0 + n seconds, as printed


def evaluator(locations=("local", "eu"), quorum=None, window=10.0, threshold=0.8, **rules):
    clock = Clock()
    alerts = AlertEvaluator(clock=clock, mono=lambda: clock.mono)
    site = replace(make_site(URL, window=window, threshold=threshold, name="shop"),
                   rules=AlertRules(**rules), locations=tuple(locations), quorum=quorum)
    alerts.configure([site])
    return alerts, clock


def check(clock, at, location, mark):
    """A check from `location` at T0 + `at`: "." up, "x" down, "w" up but warning."""
    clock.set(T0 + at)
    if mark == "w":
        return CheckResult(URL, clock.now, True, 200, 5.0, "tls_expiry",
                           "certificate expires in 5.0 days", mono=clock.mono, warning=True,
                           location=location)
    ok = mark == "."
    return CheckResult(URL, clock.now, ok, 200 if ok else 503, 5.0,
                       None if ok else "http_status", "" if ok else "HTTP 503",
                       mono=clock.mono, location=location)


def rounds(alerts, clock, start, **patterns):
    """One check a second from each location, `patterns` giving each one's marks (a space:
    no check from it that second); the events as (second, type, message)."""
    events = []
    length = max(len(pattern) for pattern in patterns.values())
    for i in range(length):
        for location, pattern in patterns.items():
            if i < len(pattern) and pattern[i] != " ":
                for event in alerts.record(check(clock, start + i, location, pattern[i])):
                    events.append((start + i, event.type, event.message))
    return events


def types(events):
    return [(at, kind) for at, kind, _ in events]


# ------------------------------------------------------------------------ one location

def test_one_location_is_todays_rule_and_words():
    # The model's default (local alone) and a monitor checked from one agent's location
    # alone: the lines of a monitor without locations, byte for byte.
    for locations in (("local",), ("eu",)):
        alerts, clock = evaluator(locations)
        events = rounds(alerts, clock, 0, **{locations[0]: "x" + "." * 12})
        assert events == [
            (0, "alert", "Website http://site.test/ is down. availability=0.0%,"
                         f" time={TIME.format(0)} (shop; http_status: HTTP 503)"),
            (4, "recovery", "Website http://site.test/ has recovered. availability=80.0%,"
                            f" time={TIME.format(4)}; down since {TIME.format(0)},"
                            " for 4s (shop)")]


# ---------------------------------------------------------------- two locations, quorum 2

def test_down_from_one_of_two_is_a_warning_and_from_both_one_alert_naming_both():
    alerts, clock = evaluator()
    # eu fails alone for three seconds: a warning, no alert.
    events = rounds(alerts, clock, 0, local="...", eu=".xx")
    assert events == [(1, "warning", "Website http://site.test/ is down from eu only (1 of 2"
                                     " locations, quorum 2). time=2027-01-15T08:00:01Z"
                                     " (shop; http_status: HTTP 503)")]
    assert not alerts.is_alerting(URL)
    # local fails too: the warning becomes the alert, one alert naming both.
    events = rounds(alerts, clock, 3, local="xxx", eu="xxx")
    assert events == [
        (3, "cleared", "Website http://site.test/ is down from local, eu: the warning becomes"
                       " an alert. time=2027-01-15T08:00:03Z; warning since"
                       " 2027-01-15T08:00:01Z, for 2s (shop)"),
        # Over both failing locations' windows: local's 3 up of 4, eu's 1 of 3 (its check
        # of this second is still to come): 4 of 7.
        (3, "alert", "Website http://site.test/ is down. availability=57.1%,"
                     " time=2027-01-15T08:00:03Z (shop; http_status: HTTP 503; down from"
                     " local, eu)")]


def test_the_alert_figure_is_over_the_failing_locations():
    alerts, clock = evaluator(("local", "eu", "us"), window=100.0)
    # local up all along; eu and us: 2 up then 3 down each.
    events = rounds(alerts, clock, 0, local=".....", eu="..xxx", us="..xxx")
    alert = next(e for e in events if e[1] == "alert")
    # eu fails at its 3rd check (2 of 3 = 66.7% < 80%); us at the same second: 4 up of 6.
    assert alert[0] == 2
    assert "availability=66.7%" in alert[2]
    assert alert[2].endswith("(shop; http_status: HTTP 503; down from eu, us; up from local)")


def test_one_location_recovering_of_two_recovers_with_a_warning_for_the_other():
    alerts, clock = evaluator(window=4.0)
    # Both fail in the same round: one alert, no warning before it (eu not heard yet when
    # local's failure came).
    assert types(rounds(alerts, clock, 0, local="x", eu="x")) == [(0, "alert")]
    # eu up again: at T0+4 its window holds 4 up of 5, 80%: eu is up, one location of two
    # failing is below the quorum and the alert recovers; local still failing (it checked
    # this second already): a warning.
    events = rounds(alerts, clock, 1, local="xxxxxx", eu=".....")
    assert events == [
        (4, "recovery", "Website http://site.test/ has recovered. availability=80.0%,"
                        " time=2027-01-15T08:00:04Z; down since 2027-01-15T08:00:00Z, for 4s"
                        " (shop; up from eu; down from local)"),
        (4, "warning", "Website http://site.test/ is down from local only (1 of 2 locations,"
                       " quorum 2). time=2027-01-15T08:00:04Z (shop; http_status: HTTP 503)")]
    # local up from T0+7, 4 of 5 at T0+10: the warning clears.
    events = rounds(alerts, clock, 7, local="......", eu="......")
    assert events == [
        (10, "cleared", "Website http://site.test/ is up again from all 2 locations."
                        " time=2027-01-15T08:00:10Z; warning since 2027-01-15T08:00:04Z,"
                        " for 6s (shop)")]


def test_quorum_one_of_two_alerts_when_either_fails():
    alerts, clock = evaluator(quorum=1, window=4.0)
    events = rounds(alerts, clock, 0, local="......", eu="..xx..")
    assert events == [
        (2, "alert", "Website http://site.test/ is down. availability=66.7%,"
                     " time=2027-01-15T08:00:02Z (shop; http_status: HTTP 503;"
                     " down from eu; up from local)"),
        # eu's window at T0+5: 4 up of 6, 66.7%; the recovery needs every location up.
        ]
    events = rounds(alerts, clock, 6, local="..", eu="..")
    assert types(events) == [(7, "recovery")]  # eu's [T0+3, T0+7]: 80%
    assert events[0][2] == ("Website http://site.test/ has recovered. availability=90.0%,"
                            " time=2027-01-15T08:00:07Z; down since 2027-01-15T08:00:02Z,"
                            " for 5s (shop; up from local, eu)")


# --------------------------------------------------------------------------- 2 of 3

def test_two_of_three():
    alerts, clock = evaluator(("local", "eu", "us"), window=3.0)
    events = rounds(alerts, clock, 0, local="........", eu=".xxxxxx.", us="...xxx..")
    assert types(events) == [(1, "warning"), (3, "cleared"), (3, "alert")]
    assert events[0][2].startswith("Website http://site.test/ is down from eu only (1 of 3"
                                   " locations, quorum 2).")
    assert events[2][2].endswith("(shop; http_status: HTTP 503; down from eu, us;"
                                 " up from local)")
    # us up from T0+6; its failures leave its 3 s window at T0+9 (T0+5's at T0+8.01).
    events += rounds(alerts, clock, 8, local="....", eu="....", us="....")
    assert types(events)[3:] == [(9, "recovery"), (9, "warning"), (10, "cleared")]
    recovery, warning = events[3][2], events[4][2]
    assert recovery.endswith("down since 2027-01-15T08:00:03Z, for 6s (shop; up from"
                             " local, us; down from eu)")
    assert "is down from eu only (1 of 3 locations, quorum 2)" in warning


def test_no_alert_while_fewer_than_quorum_fail_whatever_their_number():
    alerts, clock = evaluator(("local", "a", "b", "c", "d"), quorum=3, window=5.0)
    events = rounds(alerts, clock, 0, local="....", a="xxxx", b="xxxx", c="....", d="....")
    assert types(events) == [(0, "warning")]
    assert "is down from a, b only (2 of 5 locations, quorum 3)" in events[0][2]
    # c fails too: 4 up of 6 at T0+5 (at T0+4, 4 of 5 is 80%, not below).
    events = rounds(alerts, clock, 4, local="..", a="xx", b="xx", c="xx", d="..")
    assert types(events) == [(5, "cleared"), (5, "alert")]
    assert events[1][2].endswith("down from a, b, c; up from local, d)")


# ---------------------------------------------------------------------- lost locations

def test_a_lost_location_counts_neither_way_and_no_recovery_is_made_up():
    alerts, clock = evaluator(("local", "eu", "us"), window=3.0)
    events = rounds(alerts, clock, 0, local="..", eu="xx", us="xx")
    assert types(events) == [(0, "alert")]
    alerts.location_lost("us")
    # us's agent is lost: eu still failing, local up: 1 failing < quorum 2, but only one
    # location is seen up, and us might be failing still: the alert stays open...
    events = rounds(alerts, clock, 2, local="......", eu="xxxxxx", us="......")
    assert events == []  # (us's results, if any arrive while lost, count for nothing)
    assert alerts.is_alerting(URL)
    # ... until a real recovery is seen: eu up again.
    events = rounds(alerts, clock, 8, local="....", eu="....")
    assert types(events) == [(11, "recovery")]
    assert events[0][2].endswith("(shop; up from local, eu; no checks from us)")
    # us back: fresh; its old failures (dropped) count for nothing.
    alerts.location_back("us")
    events = rounds(alerts, clock, 12, local="...", eu="...", us="...")
    assert events == []


def test_a_lost_location_keeps_its_warning_until_it_is_seen_up():
    alerts, clock = evaluator(("local", "eu", "us"), window=3.0)
    events = rounds(alerts, clock, 0, local="..", eu="xx", us="..")
    assert types(events) == [(0, "warning")]
    alerts.location_lost("eu")
    assert rounds(alerts, clock, 2, local="......", us="......") == []
    alerts.location_back("eu")
    events = rounds(alerts, clock, 8, local="..", eu="..", us="..")
    assert types(events) == [(8, "cleared")]
    assert "is up again from all 3 locations" in events[0][2]


def test_a_lost_location_neither_opens_an_alert_nor_a_warning():
    alerts, clock = evaluator(("local", "eu"), window=3.0)
    alerts.location_lost("eu")
    assert rounds(alerts, clock, 0, local="....", eu="xxxx") == []
    # The quorum (2 of 2) does not shrink: local failing alone is a warning.
    events = rounds(alerts, clock, 4, local="xx")
    assert types(events) == [(4, "warning")]
    assert events[0][2].endswith("(shop; http_status: HTTP 503; no checks from eu)")


def test_a_location_silent_for_a_window_counts_neither_way():
    # An agent not yet declared lost, its location silent: after one window it is
    # unheard, neither up nor down.
    alerts, clock = evaluator(("local", "eu", "us"), window=3.0)
    rounds(alerts, clock, 0, local="x", eu="x", us="x")
    assert alerts.is_alerting(URL)
    events = rounds(alerts, clock, 1, local="........", eu="xxxxxxxx")
    assert events == []  # us's failure left its window at T0+3: it is not seen up
    # Checked again, us is up: with local, two up, the alert recovers; eu, still down,
    # is a warning.
    events = rounds(alerts, clock, 9, local=".", eu=".", us=".")
    assert types(events) == [(9, "recovery"), (9, "warning")]


def test_the_local_location_is_never_lost():
    alerts, clock = evaluator(window=3.0)
    alerts.location_lost("local")
    assert types(rounds(alerts, clock, 0, local="x", eu="x")) == [(0, "alert")]


def test_a_single_location_monitor_of_a_lost_agent_keeps_its_alert():
    alerts, clock = evaluator(("eu",), window=3.0)
    assert types(rounds(alerts, clock, 0, eu="x")) == [(0, "alert")]
    alerts.location_lost("eu")
    assert rounds(alerts, clock, 1, eu="....") == []
    alerts.location_back("eu")
    assert types(rounds(alerts, clock, 5, eu=".")) == [(5, "recovery")]


def test_results_of_a_location_not_the_monitors_are_ignored():
    alerts, clock = evaluator(("local", "eu"), quorum=1)
    assert rounds(alerts, clock, 0, us="xxx") == []


# --------------------------------------------------------------------- rules per location

def test_each_location_counts_its_own_checks_in_a_row():
    # alertAfter 3: eu fails every check, local never; interleaved they are never 3 in a
    # row, but eu's own are. quorum 1: eu alone alerts, at its 3rd failure.
    alerts, clock = evaluator(quorum=1, alert_after=(3, 3), window=60.0)
    events = rounds(alerts, clock, 0, local=".....", eu="xxxxx")
    assert types(events) == [(2, "alert")]


def test_recover_after_per_location():
    alerts, clock = evaluator(quorum=1, recover_after=3, window=2.0)
    rounds(alerts, clock, 0, local="x", eu=".")
    events = rounds(alerts, clock, 1, local="....", eu="....")
    assert types(events) == [(3, "recovery")]  # local's 3rd success in a row


def test_two_locations_that_disagree_are_not_flapping():
    alerts, clock = evaluator(quorum=1, flap_limit=2, flap_window=60.0, window=3.0)
    events = rounds(alerts, clock, 0, local="." * 20, eu="x" * 20)
    assert types(events) == [(0, "alert")]


def test_flapping_needs_the_quorum_of_locations_flapping():
    alerts, clock = evaluator(flap_limit=2, flap_window=60.0, window=1.0)
    events = rounds(alerts, clock, 0, local="xx..xx..xx..", eu="xx..xx..xx..")
    # Both change 3 times by T0+6: flapping, once, at eu's check of then.
    assert types(events) == [(0, "alert"), (3, "recovery"), (4, "alert"), (6, "flapping")]
    assert events[-1][2] == ("Website http://site.test/ is flapping: 3 changes between up and"
                             " down in 1m00s; its alerts are held until it settles."
                             " time=2027-01-15T08:00:06Z (shop; from local, eu)")
    # Held while flapping; settled once the changes age out (the last at T0+10: one left
    # from T0+69), and the rules apply again: the recovery held back.
    events = rounds(alerts, clock, 12, local="." * 60, eu="." * 60)
    assert types(events) == [(69, "settled"), (69, "recovery")]
    assert "has settled (up)" in events[0][2]


def test_one_location_flapping_alone_is_no_flapping_and_holds_its_warning():
    alerts, clock = evaluator(flap_limit=2, flap_window=60.0, window=1.0)
    events = rounds(alerts, clock, 0, local="............", eu="xx..xx..xx..")
    # eu's third change (T0+6) holds the warning where it is: open.
    assert types(events) == [(0, "warning"), (3, "cleared"), (4, "warning")]
    # Held while eu's changes are more than flapLimit: two left from T0+67 (T0+8, T0+10),
    # and the warning clears.
    events = rounds(alerts, clock, 12, local="." * 60, eu="." * 60)
    assert types(events) == [(67, "cleared")]


def test_maintenance_forgets_the_locations_checks_before_it():
    alerts, clock = evaluator(window=3600.0, alert_after=(2, 2))
    rounds(alerts, clock, 0, local="xx", eu="xx")
    assert alerts.is_alerting(URL)
    for location in ("local", "eu"):
        clock.set(T0 + 2)
        assert alerts.record(CheckResult(URL, clock.now, None, None, 1.0, "maintenance",
                                         "in maintenance; up", mono=clock.mono,
                                         location=location)) == []
    # The hour of failures before it counts for nothing: two successes and it recovers.
    events = rounds(alerts, clock, 3, local=".", eu=".")
    assert types(events) == [(3, "recovery")]


def test_reminders_name_the_locations_and_an_acknowledgement_stops_them():
    alerts, clock = evaluator(("local", "eu", "us"), remind_every=5.0, window=3.0)
    events = rounds(alerts, clock, 0, local="......", eu="xxxxxx", us="xxxxxx")
    assert types(events) == [(0, "alert"), (5, "reminder")]
    assert events[1][2] == ("Website http://site.test/ is still down. availability=0.0%,"
                            " time=2027-01-15T08:00:05Z; down since 2027-01-15T08:00:00Z,"
                            " for 5s (shop; http_status: HTTP 503; down from eu, us; up"
                            " from local)")
    assert alerts.reminding() == {URL: T0}
    alerts.acknowledge(URL, T0)
    assert rounds(alerts, clock, 6, local="." * 10, eu="x" * 10, us="x" * 10) == []


def test_a_checks_own_warning_clears_once_no_location_warns():
    alerts, clock = evaluator()
    events = rounds(alerts, clock, 0, local="...", eu="ww.")
    assert types(events) == [(0, "warning"), (2, "cleared")]
    assert events[0][2] == ("Website http://site.test/ warns: tls_expiry: certificate expires"
                            " in 5.0 days. time=2027-01-15T08:00:00Z (shop; from eu)")


def test_an_alert_raised_is_an_alert_event():
    alerts, clock = evaluator(window=3.0)
    assert rounds(alerts, clock, 0, local=".x", eu="..") == [
        (1, "warning", "Website http://site.test/ is down from local only (1 of 2 locations,"
                       " quorum 2). time=2027-01-15T08:00:01Z (shop; http_status: HTTP 503)")]
    assert alerts.record(check(clock, 2, "local", "x")) == []
    raised = alerts.record(check(clock, 2, "eu", "x"))
    assert [e.type for e in raised] == ["cleared", "alert"]
    alert = raised[-1]
    assert isinstance(alert, AlertEvent)
    assert (alert.type, alert.event, alert.previous, alert.reason, alert.detail) == (
        "alert", "alert", "warning", "http_status", "HTTP 503")
    assert alert.availability == 0.5  # local's 1 up of 3, eu's 2 of 3


# ---------------------------------------------------------------------------- restarts

def restarted(at, restored, locations=("local", "eu", "us"), **rules):
    """A new evaluator, in a process of its own monotonic origin, restored at T0 + `at`."""
    clock = ProcessClock(T0 + at, origin=9_000_000.0)
    alerts = AlertEvaluator(clock=clock, mono=lambda: clock.mono)
    site = replace(make_site(URL, window=rules.pop("window", 3.0), name="shop"),
                   rules=AlertRules(**rules), locations=tuple(locations))
    alerts.configure([site])
    alerts.restore(URL, restored)
    return alerts, clock


def test_a_restart_keeps_the_alert_open_and_recovers_it_from_each_locations_checks():
    down = [(T0 + i, False) for i in range(8, 10)]
    restored = Restored(T0 + 1, reminded=T0 + 1,
                        located={"local": [(T0 + i, True) for i in range(8, 10)],
                                 "eu": down, "us": down},
                        cause=("http_status", "HTTP 503"), seen_up=True)
    alerts, clock = restarted(10, restored)
    assert alerts.is_alerting(URL)
    # Not raised again; eu and us replayed as failing: eu up alone is not enough before
    # its failures leave its window (T0+9's at T0+12.01).
    events = rounds(alerts, clock, 10, local="....", eu="....", us="xxxx")
    assert types(events) == [(13, "recovery"), (13, "warning")]
    assert events[0][2].endswith("down since 2027-01-15T08:00:01Z, for 12s (shop; up from"
                                 " local, eu; down from us)")
    assert "is down from us only (1 of 3 locations, quorum 2)" in events[1][2]


def test_a_restart_keeps_a_location_warning_without_repeating_it():
    message = ("Website http://site.test/ is down from eu only (1 of 3 locations, quorum 2)."
               " time=2027-01-15T08:00:05Z (shop)")
    restored = Restored(warning_start=T0 + 5, warning_message=message,
                        located={"eu": [(T0 + 9, False)], "local": [(T0 + 9, True)],
                                 "us": [(T0 + 9, True)]})
    alerts, clock = restarted(10, restored)
    assert rounds(alerts, clock, 10, local="..", eu="xx", us="..") == []
    events = rounds(alerts, clock, 12, local="....", eu="....", us="....")
    assert types(events) == [(15, "cleared")]  # eu's failures out of its window
    assert events[0][2].endswith("warning since 2027-01-15T08:00:05Z, for 10s (shop)")


def test_a_restart_keeps_a_checks_own_warning_of_a_monitor_of_several_locations():
    message = ("Website http://site.test/ warns: tls_expiry: certificate expires in 5.0 days."
               " time=2027-01-15T08:00:05Z (shop; from eu)")
    restored = Restored(warning_start=T0 + 5, warning_message=message)
    alerts, clock = restarted(10, restored)
    events = rounds(alerts, clock, 10, local="w.", eu="w.", us="..")
    assert types(events) == [(11, "cleared")]
    assert "no longer warns" in events[0][2]


@pytest.mark.parametrize(("message", "located"), [
    ("Website x is down from eu only (1 of 3 locations, quorum 2). time=...", True),
    ("Website x warns: expect: body says 'is down from eu only'. time=...", False),
    ("disk /var warns: threshold: 91% used. time=...", False)])
def test_location_warnings_are_told_from_a_checks_own(message, located):
    from monitor.alerts.messages import is_location_warning
    assert is_location_warning(message) is located


def test_a_location_warning_of_a_monitor_reloaded_with_one_location_clears_as_a_checks():
    alerts, clock = evaluator(window=3.0)
    assert types(rounds(alerts, clock, 0, local="..", eu=".x")) == [(1, "warning")]
    alerts.configure([make_site(URL, window=3.0, name="shop")])  # locations removed
    events = rounds(alerts, clock, 2, local=".")
    assert types(events) == [(2, "cleared")]
    assert events[0][2].startswith("Website http://site.test/ no longer warns.")


def test_a_location_silent_but_not_found_lost_holds_a_warning_back_one_round_at_most():
    # interval 1 s, timeout 0.5 s: a warning waits 2.5 s at most for the other locations.
    alerts, clock = evaluator(("local", "eu", "us"), window=10.0)
    rounds(alerts, clock, 0, local="..", eu="..", us="..")
    events = rounds(alerts, clock, 2, local="....", eu="xxxx")  # us silent from T0+2
    assert types(events) == [(5, "warning")]  # eu down from T0+2, us awaited until T0+4.5


def test_after_a_gap_of_a_window_the_first_round_is_judged_whole():
    # Every window emptied (a long stop): a failure seen from two locations in the next
    # round is one alert, not a warning for the first of them.
    alerts, clock = evaluator(("local", "eu", "us"), window=10.0)
    rounds(alerts, clock, 0, local="..", eu="..", us="..")
    events = rounds(alerts, clock, 100, local="..", eu="xx", us="xx")
    assert types(events) == [(100, "alert")]


def test_the_lines_in_the_docs_are_the_evaluators():
    # docs/alerts.md, "Locations and quorum": checks every 30 s, window 120 s, reminders
    # hourly; eu fails from 11:08:40 to 12:14:40, us from 11:10:10 to 12:13:10.
    from pathlib import Path

    clock = Clock(1_795_000_000.0)  # 2026-11-18T11:06:40Z
    alerts = AlertEvaluator(clock=clock, mono=lambda: clock.mono)
    site = replace(make_site("https://shop.example/", interval=30.0, window=120.0,
                             name="shop"), rules=AlertRules(remind_every=3600.0),
                   locations=("local", "eu", "us"))
    alerts.configure([site])
    lines = []
    for t in range(0, 4230, 30):
        for location, up in (("local", True), ("eu", t < 120 or t >= 4110),
                             ("us", t < 210 or t >= 4020)):
            clock.now, clock.mono = 1_795_000_000.0 + t, float(t)
            lines += [e.message for e in alerts.record(CheckResult(
                site.id, clock.now, up, 200 if up else 503, 5.0,
                None if up else "http_status", "" if up else "HTTP 503 Service Unavailable",
                mono=clock.mono, location=location))]
    docs = (Path(__file__).parents[2] / "docs" / "alerts.md").read_text()
    section = docs.split("## Locations and quorum")[1].split("```")[1].strip().splitlines()
    assert lines == section
