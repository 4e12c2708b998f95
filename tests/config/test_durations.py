"""Durations (issue 22, 8): every duration of the config accepts a number of seconds or
`90s`, `5m`, `1h`, `7d`, read by the same parser as `maintenance on --for`."""

import json

import pytest

from monitor.config import parse_config
from monitor.core.errors import ConfigError
from monitor.core.timefmt import format_seconds, parse_duration
from tests.support.app import run_app, write

FORMS = ('a number of seconds, or a number with s, m, h or d ("90s", "5m", "1h", "7d")')


@pytest.mark.parametrize(("value", "seconds"), [
    (90, 90.0), (2.5, 2.5), ("90", 90.0), ("90s", 90.0), ("5m", 300.0), ("1h", 3600.0),
    ("7d", 604800.0), ("1.5h", 5400.0), (" 2 m ", 120.0), (".5s", 0.5)])
def test_parse_duration(value, seconds):
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", [True, None, [5], "5 minutes", "1w", "h", "", "-5s",
                                   "1e3s", "nan", float("inf"), 10**400, "5m30s",
                                   "9" * 400, "9" * 400 + "d", "١٢٣", "٣s", "１２m"])
def test_parse_duration_refuses(value):
    assert parse_duration(value) is None


def test_format_seconds():
    assert [format_seconds(s) for s in (2, 3.5, 90, 300, 3600, 86400 * 7)] == [
        "2s", "3.5s", "90s", "5m", "1h", "7d"]


def test_every_duration_of_the_config_accepts_the_forms():
    config = parse_config(json.dumps({
        "defaultCheckInterval": "30s", "alertWindow": "5m", "notifyRetryFor": "1d",
        "heartbeatInterval": "1m", "heartbeatUrl": "https://hc-ping.example/x",
        "remindEvery": "1h", "flapWindow": "15m",
        "websites": [
            {"URL": "http://a.example/", "checkInterval": "1m", "timeout": "10s",
             "alertWindow": "10m", "remindEvery": "2h", "flapWindow": "1h",
             "maintenance": {"every": "day", "at": "02:00", "for": "1h"}},
            {"URL": "http://b.example/"}]}))
    a, b = config.monitors
    assert (config.default_check_interval, config.alert_window, config.notify_retry_for,
            config.heartbeat_interval) == (30.0, 300.0, 86400.0, 60.0)
    assert (a.interval, a.timeout, a.alert_window) == (60.0, 10.0, 600.0)
    assert (a.rules.remind_every, a.rules.flap_window, a.rules.maintenance[0].seconds) == (
        7200.0, 3600.0, 3600.0)
    assert (b.interval, b.alert_window, b.rules.remind_every, b.rules.flap_window) == (
        30.0, 300.0, 3600.0, 900.0)


@pytest.mark.parametrize(("top", "site", "message"), [
    ({}, {"checkInterval": "5 minutes"}, f"websites[0].checkInterval: must be a duration"
                                         f" greater than 0: {FORMS}"),
    ({}, {"timeout": "0s"}, f"websites[0].timeout: must be a duration greater than 0: {FORMS}"),
    ({}, {"checkInterval": "2d"}, "websites[0].checkInterval: must be at most 1d"),
    ({}, {"maintenance": {"every": "day", "at": "02:00", "for": "8d"}},
     "websites[0].maintenance.for: must be at most 7d"),
    ({"flapWindow": "1w"}, {}, f"flapWindow: must be a duration greater than 0: {FORMS}"),
    ({"remindEvery": "0.5s"}, {}, "remindEvery: must be at least 1s"),
    ({}, {"checkInterval": "9" * 400 + "s"}, f"websites[0].checkInterval: must be a duration"
                                             f" greater than 0: {FORMS}"),
    ({}, {"timeout": "٣s"}, f"websites[0].timeout: must be a duration greater than 0: {FORMS}"),
])
def test_duration_errors_name_the_path_and_the_forms(top, site, message):
    text = json.dumps({**top, "websites": [{"URL": "http://a.example/", **site}]})
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert str(caught.value) == f"config.json: {message}"


def test_validate_and_maintenance_for_read_durations_alike(tmp_path):
    write(tmp_path / "config.json", {"websites": [
        {"URL": "http://127.0.0.1:9/", "maintenance": {"every": "day", "at": "02:00",
                                                       "for": "1h"}}]})
    assert run_app(["validate"], tmp_path) == (0, "config.json: OK, 1 monitor(s)\n", "")
    status, out, err = run_app(["maintenance", "on", "http://127.0.0.1:9/", "--for", "1 h"],
                               tmp_path)
    assert (status, out) == (1, "")  # the duration is taken; there is no database yet
    assert err.startswith("Error: monitoring.db: database not found")
