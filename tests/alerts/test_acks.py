"""Acknowledged alerts on an injected clock: reminded no more, recovered as ever, and a new
alert reminded again."""

from monitor.alerts import Restored
from tests.alerts.test_alert_rules import check, evaluator, run
from tests.alerts.test_alerts import T0, URL


def test_an_acknowledged_alert_is_reminded_no_more_but_recovers() -> None:
    alerts, clock = evaluator(remind_every=60.0, window=10.0)
    assert run(alerts, clock, "x" * 61) == [(0, "alert"), (60, "reminder")]
    assert alerts.reminding() == {URL: T0}
    alerts.acknowledge(URL, T0)
    assert alerts.reminding() == {}
    assert run(alerts, clock, "x" * 200, start=61) == []
    assert run(alerts, clock, "." * 20, start=261) == [(8, "recovery")]


def test_the_next_alert_is_reminded_again() -> None:
    alerts, clock = evaluator(remind_every=60.0, window=10.0)
    run(alerts, clock, "x")
    alerts.acknowledge(URL, T0)
    run(alerts, clock, "." * 20, start=1)  # recovered
    events = run(alerts, clock, "x" * 63, start=21)
    assert events == [(2, "alert"), (62, "reminder")]  # 8 up of 11: below 80% at the 3rd
    assert alerts.reminding() == {URL: T0 + 23}


def test_an_ack_of_another_alert_changes_nothing() -> None:
    # The alert acknowledged has closed since and another one opened: it is not that one.
    alerts, clock = evaluator(remind_every=60.0, window=10.0)
    run(alerts, clock, "x")
    alerts.acknowledge(URL, T0 - 100)
    alerts.acknowledge("http://other.test/", T0)
    assert run(alerts, clock, "x" * 60, start=1) == [(59, "reminder")]


def test_no_reminders_no_polling() -> None:
    # Without remindEvery an open alert has nothing an acknowledgement could stop.
    alerts, clock = evaluator(window=10.0)
    run(alerts, clock, "x")
    assert alerts.is_alerting(URL) and alerts.reminding() == {}


def test_an_acknowledgement_read_back_at_a_restart_holds() -> None:
    alerts, clock = evaluator(remind_every=60.0, window=10.0)
    alerts.restore(URL, Restored(alert_start=T0 - 500, reminded=T0 - 100, acknowledged=True,
                                 seen_up=True), now=T0)
    assert alerts.reminding() == {}
    assert run(alerts, clock, "x" * 100) == []
    alerts.restore(URL, Restored(alert_start=T0 - 500, reminded=T0 - 100, seen_up=True),
                   now=T0)
    assert [e.type for e in alerts.record(check(clock, T0 + 100, False))] == ["reminder"]
