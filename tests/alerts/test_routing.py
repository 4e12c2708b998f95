"""Which providers hear of an alert or a recovery and what they are told: a monitor's
`notify` and `notifyOn`, each provider's templates, the default texts (the agent systems'
form for checks of this machine)."""

from __future__ import annotations

import json
import socket

from monitor.alerts import AlertEvent
from monitor.alerts.messages import alert_message, recovery_message
from monitor.alerts.routing import deliveries
from monitor.config import parse_config
from monitor.store.api import KEY_FIELD

AT = 1_764_500_000.0  # 2025-11-30T10:53:20Z


def config(websites: list[dict], **top):
    providers = [{"name": "ops", "url": "json://127.0.0.1:9/hook"},
                 {"name": "pager", "url": "json://127.0.0.1:9/pager",
                  "title": "[{EVENT}] {name}", "body": "{name} ({kind}) is {state}: {message}"
                                                       " #{key}"}]
    return parse_config(json.dumps({"websites": websites, "notify": providers, **top}))


def alert(monitor_id: str, target: str, previous: str = "") -> AlertEvent:
    return AlertEvent("alert", monitor_id, 0.5, AT, AT, None, alert_message(target, 0.5, AT),
                      previous=previous)


def recovery(monitor_id: str, target: str) -> AlertEvent:
    return AlertEvent("recovery", monitor_id, 1.0, AT + 60, AT, AT + 60,
                      recovery_message(target, 1.0, AT, AT + 60))


def test_every_provider_by_default_each_with_its_templates():
    cfg = config([{"URL": "https://shop.example/", "name": "shop"}])
    site = cfg.monitors[0]
    found = deliveries(alert(site.id, site.target), site, cfg.providers)
    assert [(d.provider, d.event, d.title, d.body) for d in found] == [
        ("ops", "alert", "ALERT: shop", alert_message(site.target, 0.5, AT)),
        ("pager", "alert", "[ALERT] shop",
         f"shop (http) is down: {alert_message(site.target, 0.5, AT)} #{KEY_FIELD}")]


def test_a_monitor_names_its_providers_and_events():
    cfg = config([{"URL": "https://a.example/", "notify": ["pager"]},
                  {"URL": "https://b.example/", "notify": []},
                  {"URL": "https://c.example/", "notifyOn": ["alert"]}])
    a, b, c = cfg.monitors
    assert [d.provider for d in deliveries(alert(a.id, a.target), a, cfg.providers)] == [
        "pager"]
    assert deliveries(alert(b.id, b.target), b, cfg.providers) == ()
    assert len(deliveries(alert(c.id, c.target), c, cfg.providers)) == 2
    assert deliveries(recovery(c.id, c.target), c, cfg.providers) == ()
    # A monitor removed while its alert was on its way: nothing to send.
    assert deliveries(alert("gone", "gone"), None, cfg.providers) == ()


def test_a_check_of_this_machine_speaks_as_the_agents_did():
    cfg = config([{"type": "process", "name": "nginx", "notify": ["ops"]}])
    proc = cfg.monitors[0]
    host = socket.gethostname()
    (down,) = deliveries(alert(proc.id, proc.target, "up"), proc, cfg.providers)
    assert (down.title, down.body) == (
        "nginx is now DOWN",
        f"process nginx on {host} changed from up -> down at 2025-11-30T10:53:20Z")
    # Never seen up: it did not change from up (issue 21, 18), and it says why.
    event = AlertEvent("alert", proc.id, 0.0, AT, AT, None, "", "process",
                       "nginx: 0 running, min 1", "unknown")
    (down,) = deliveries(event, proc, cfg.providers)
    assert down.body == (f"process nginx on {host} changed from unknown -> down at"
                         " 2025-11-30T10:53:20Z (process: nginx: 0 running, min 1)")
    disk = config([{"type": "disk", "path": "/var", "notify": ["ops"]}]).monitors[0]
    (down,) = deliveries(alert(disk.id, disk.target, "warning"), disk, cfg.providers)
    assert (down.title, down.body) == (
        "disk /var is now DOWN",
        f"disk /var on {host} changed from warning -> down at 2025-11-30T10:53:20Z")
    (up,) = deliveries(recovery(proc.id, proc.target), proc, cfg.providers)
    assert (up.title, up.body) == (
        "nginx is now UP",
        f"process nginx on {host} changed from down -> up at 2025-11-30T10:54:20Z")


def test_the_rules_events_by_notify_on_and_their_default_titles():
    cfg = config([{"URL": "https://shop.example/", "name": "shop",
                   "notifyOn": ["warning", "reminder", "flapping"]},
                  {"URL": "https://blog.example/", "name": "blog"}])
    shop, blog = cfg.monitors
    sent = {}
    for kind in ("alert", "recovery", "reminder", "warning", "cleared", "flapping", "settled"):
        event = AlertEvent(kind, shop.id, 1.0, AT, AT, None, f"the {kind} line")
        sent[kind] = [(d.provider, d.event, d.title, d.body.split(":")[-1].strip())
                      for d in deliveries(event, shop, cfg.providers)]
    assert sent["alert"] == sent["recovery"] == []  # not in its notifyOn
    assert sent["warning"][0] == ("ops", "warning", "WARNING: shop", "the warning line")
    assert sent["cleared"][0] == ("ops", "warning", "CLEARED: shop", "the cleared line")
    assert sent["reminder"][0] == ("ops", "reminder", "REMINDER: shop", "the reminder line")
    assert sent["flapping"][0] == ("ops", "flapping", "FLAPPING: shop", "the flapping line")
    assert sent["settled"][0] == ("ops", "flapping", "SETTLED: shop", "the settled line")
    # The pager's template: {state} says where it stands after each.
    assert sent["settled"][1][2:] == ("[SETTLED] shop", "the settled line #\x00key\x00")
    # By default: all but warnings.
    for kind, wanted in (("warning", False), ("cleared", False), ("reminder", True),
                         ("flapping", True), ("settled", True)):
        event = AlertEvent(kind, blog.id, 1.0, AT, AT, None, "x")
        assert bool(deliveries(event, blog, cfg.providers)) is wanted, kind
