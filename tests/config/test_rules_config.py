"""The alert rules' keys of config.json, at the top level and per monitor: every value
read, every error message in full."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.core.rules import AlertRules
from tests.support.config import DURATION, URL, error_of, parse


def test_no_rule_keys_is_the_window_rule_alone():
    site = parse().monitors[0]
    assert site.rules == AlertRules()
    assert (site.rules.alert_after, site.rules.recover_after, site.rules.remind_every,
            site.rules.flap_limit, site.rules.min_checks, site.rules.maintenance) == (
        None, None, None, None, 1, ())


def test_every_key_read_per_monitor():
    site = parse({"URL": URL, "alertAfter": 3, "recoverAfter": 2, "remindEvery": 3600,
                  "flapLimit": 5, "flapWindow": 300, "alertMinChecks": 4}).monitors[0]
    assert site.rules == AlertRules(alert_after=(3, 3), recover_after=2, remind_every=3600.0,
                                    flap_limit=5, flap_window=300.0, min_checks=4)


def test_failures_of_checks():
    site = parse({"URL": URL, "alertAfter": {"failures": 3, "of": 5}}).monitors[0]
    assert site.rules.alert_after == (3, 5)


def test_top_level_rules_are_defaults_a_monitor_replaces_key_by_key():
    config = parse({"URL": URL}, {"URL": "https://b.example/", "alertAfter": 5,
                                  "plugins": ["tls"]},
                   alertAfter=2, remindEvery=600, flapLimit=4)
    a, b, b_tls = config.monitors
    assert a.rules == AlertRules(alert_after=(2, 2), remind_every=600.0, flap_limit=4)
    assert b.rules == AlertRules(alert_after=(5, 5), remind_every=600.0, flap_limit=4)
    assert b_tls.id == "https://b.example/tls" and b_tls.rules == b.rules  # a site's plugin


def test_history_is_what_the_count_rules_look_at():
    assert AlertRules().history == 2
    assert AlertRules(alert_after=(3, 5), recover_after=4).history == 5
    assert AlertRules(recover_after=7).history == 7


@pytest.mark.parametrize(("entry", "message"), [
    ({"alertAfter": 0}, "websites[0].alertAfter: must be a whole number greater than 0"),
    ({"alertAfter": 1001}, "websites[0].alertAfter: must be at most 1000"),
    ({"alertAfter": 2.5}, "websites[0].alertAfter: must be a whole number of failed checks in"
                          " a row, or {\"failures\": N, \"of\": M}"),
    ({"alertAfter": True}, "websites[0].alertAfter: must be a whole number of failed checks"
                           " in a row, or {\"failures\": N, \"of\": M}"),
    ({"alertAfter": "3"}, "websites[0].alertAfter: must be a whole number of failed checks in"
                          " a row, or {\"failures\": N, \"of\": M}"),
    ({"alertAfter": {"failures": 3}}, "websites[0].alertAfter.of: is required"),
    ({"alertAfter": {"of": 3}}, "websites[0].alertAfter.failures: is required"),
    ({"alertAfter": {"failures": 4, "of": 3}},
     "websites[0].alertAfter.failures: must be at most \"of\" (3)"),
    ({"alertAfter": {"failures": 0, "of": 3}},
     "websites[0].alertAfter.failures: must be a whole number greater than 0"),
    ({"alertAfter": {"failures": 1, "of": 3, "in": 9}},
     "websites[0].alertAfter.in: unknown key"),
    ({"recoverAfter": 0}, "websites[0].recoverAfter: must be a whole number greater than 0"),
    ({"recoverAfter": 1.5}, "websites[0].recoverAfter: must be a whole number greater than 0"),
    ({"remindEvery": 0}, f"websites[0].remindEvery: {DURATION}"),
    ({"remindEvery": 0.5}, "websites[0].remindEvery: must be at least 1s"),
    ({"remindEvery": 1e9}, "websites[0].remindEvery: must be at most 30d"),
    ({"flapLimit": -1}, "websites[0].flapLimit: must be a whole number greater than 0"),
    ({"flapWindow": "10 min"}, f"websites[0].flapWindow: {DURATION}"),
    ({"flapWindow": 86401}, "websites[0].flapWindow: must be at most 1d"),
    ({"alertMinChecks": 0},
     "websites[0].alertMinChecks: must be a whole number greater than 0"),
    ({"alertMinChecks": 100001}, "websites[0].alertMinChecks: must be at most 100000"),
    ({"alertafter": 3}, "websites[0].alertafter: unknown key (did you mean \"alertAfter\"?)"),
])
def test_errors_per_monitor(entry: dict[str, Any], message: str) -> None:
    assert error_of({"URL": URL, **entry}) == message


@pytest.mark.parametrize(("top", "message"), [
    ({"alertAfter": 0}, "alertAfter: must be a whole number greater than 0"),
    ({"alertAfter": {"failures": 2}}, "alertAfter.of: is required"),
    ({"remindEvery": -5}, f"remindEvery: {DURATION}"),
    ({"flapLimit": "x"}, "flapLimit: must be a whole number greater than 0"),
])
def test_errors_at_the_top_level(top: dict[str, Any], message: str) -> None:
    assert error_of(**top) == message


@pytest.mark.parametrize("key", ["alertAfter", "recoverAfter", "remindEvery", "flapLimit",
                                 "flapWindow", "alertMinChecks", "maintenance"])
def test_the_canary_takes_no_rules(key: str) -> None:
    assert error_of(canary={"URL": "http://127.0.0.1:9/", key: 1}) == (
        f"canary.{key}: the canary raises no alerts")


def test_maintenance_per_monitor_and_at_the_top_level() -> None:
    from monitor.core.windows import OneOff, Recurring

    config = parse({"URL": URL}, {"URL": "https://b.example/", "maintenance": []},
                   {"URL": "https://c.example/",
                    "maintenance": {"from": "2026-12-01T02:00:00Z",
                                    "to": "2026-12-01T04:00:00+01:00"}},
                   maintenance=[{"every": ["sun"], "at": "02:00", "for": 3600,
                                 "timezone": "Europe/Paris"}])
    a, b, c = config.monitors
    assert a.rules.maintenance == (Recurring(frozenset({6}), 2, 0, 3600.0, "Europe/Paris"),)
    assert b.rules.maintenance == ()  # [] opts out of the top level's
    assert c.rules.maintenance == (OneOff(1_796_090_400.0, 1_796_094_000.0),)
    assert error_of({"URL": URL, "maintenance": [{"every": "day", "at": "2:00",
                                                   "for": 60}]}) == (
        "websites[0].maintenance[0].at: must be a time of day \"HH:MM\" from 00:00 to"
        " 23:59, e.g. \"02:00\"")
