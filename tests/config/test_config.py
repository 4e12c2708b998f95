"""Tests of monitor.config: defaults, exact error messages, display_url, and fuzzing.

Every error message is compared in full: the messages are the user interface of the loader.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor import config as config_mod
from monitor.checks import registry
from monitor.checks.http.spec import DEFAULT_MAX_BODY_BYTES, HttpSpec
from monitor.checks.http.spec import KEYS as HTTP_KEYS
from monitor.config import DEFAULT_MAX_WORKERS, Config, load_config, parse_config
from monitor.config import TOP_KEYS as CONFIG_KEYS
from monitor.config.retention import Retention
from monitor.core.errors import ConfigError, MonitorError
from monitor.core.model import Monitor
from monitor.core.secrets import display_url
from monitor.engine import Engine
from monitor.store.sqlite.writer import Store
from tests.support.app import ROOT, run_app, wait_for
from tests.support.config import DURATION, config_error
from tests.support.db import count_checks

TOP_KEYS = (*CONFIG_KEYS, "maxBodyBytes")  # the http kind's default, at the top level

BAD_DIR = Path(__file__).parent / "bad"
URL = "https://example.com/"


def doc(*sites: dict[str, Any], **top: Any) -> str:
    """A config document as JSON text; sites default to one site with URL."""
    return json.dumps({"websites": list(sites) or [{"URL": URL}], **top})


def one_site(**fields: Any) -> Monitor:
    return parse_config(doc({"URL": URL, **fields})).monitors[0]


# The kinds built in, as an unknown `type` lists them.
KINDS = "content, cpu, disk, dns, http, load, log, memory, metric, process, push, tcp, tls"


@pytest.fixture(autouse=True)
def _only_http_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    """Other modules (tests) register check kinds; pin the set so `type` messages are exact."""
    monkeypatch.setattr(registry, "_KINDS", {"http": registry.get("http")})


# --------------------------------------------------------------------------- defaults


def test_minimal_config_fills_every_default() -> None:
    config = parse_config(doc())
    assert config == Config(
        monitors=(
            Monitor(
                id=URL,
                kind="http",
                target=URL,
                name="",
                interval=2.0,
                timeout=2.0,
                alert_window=120.0,
                alert_threshold=0.8,
                spec=HttpSpec(url=URL, max_body_bytes=DEFAULT_MAX_BODY_BYTES),
            ),
        ),
        default_check_interval=2.0,
        alert_window=120.0,
        alert_threshold=0.8,
        retention_days=None,
        retention=Retention(),  # the defaults: the database bounded, days kept
        max_workers=DEFAULT_MAX_WORKERS,
    )
    assert config.source == "config.json"
    assert DEFAULT_MAX_WORKERS == 256
    assert DEFAULT_MAX_BODY_BYTES == 10 * 1024 * 1024


def test_default_check_interval_is_two_when_absent() -> None:
    assert parse_config(doc()).default_check_interval == 2.0
    assert one_site().interval == 2.0


def test_global_default_check_interval_applies_to_sites() -> None:
    config = parse_config(doc({"URL": URL}, {"URL": "https://b.example/"},
                              defaultCheckInterval=7))
    assert config.default_check_interval == 7.0
    assert [s.interval for s in config.monitors] == [7.0, 7.0]


def test_site_check_interval_overrides_default() -> None:
    config = parse_config(doc({"URL": URL, "checkInterval": 5}, {"URL": "https://b.example/"},
                              defaultCheckInterval=3))
    assert [s.interval for s in config.monitors] == [5.0, 3.0]
    assert isinstance(config.monitors[0].interval, float)


@pytest.mark.parametrize(
    ("interval", "timeout"),
    [(30, 10.0), (10, 10.0), (3.5, 3.5), (2, 2.0), (0.25, 0.25), (600, 10.0)],
)
def test_timeout_defaults_to_min_of_ten_and_interval(interval: float, timeout: float) -> None:
    assert one_site(checkInterval=interval).timeout == timeout


def test_timeout_default_follows_global_interval() -> None:
    config = parse_config(doc(defaultCheckInterval=4.5))
    assert config.monitors[0].timeout == 4.5


def test_explicit_timeout_is_kept_even_above_interval() -> None:
    assert one_site(checkInterval=30, timeout=3).timeout == 3.0
    assert one_site(checkInterval=2, timeout=25).timeout == 25.0


def test_alert_window_and_threshold_defaults() -> None:
    config = parse_config(doc())
    assert (config.alert_window, config.alert_threshold) == (120.0, 0.8)
    assert (config.monitors[0].alert_window, config.monitors[0].alert_threshold) == (120.0, 0.8)


def test_global_alert_settings_flow_to_sites() -> None:
    config = parse_config(doc(alertWindow=300, alertThreshold=0.5))
    assert (config.alert_window, config.alert_threshold) == (300.0, 0.5)
    assert (config.monitors[0].alert_window, config.monitors[0].alert_threshold) == (300.0, 0.5)


def test_site_alert_settings_override_global() -> None:
    config = parse_config(doc(
        {"URL": URL, "alertWindow": 60, "alertThreshold": 0.95},
        {"URL": "https://b.example/"},
        alertWindow=300,
        alertThreshold=0.5,
    ))
    a, b = config.monitors
    assert (a.alert_window, a.alert_threshold) == (60.0, 0.95)
    assert (b.alert_window, b.alert_threshold) == (300.0, 0.5)
    assert config.max_alert_window == 300.0


def test_max_alert_window_is_largest_site_window() -> None:
    config = parse_config(doc({"URL": URL, "alertWindow": 600}, {"URL": "https://b.example/"}))
    assert config.max_alert_window == 600.0


def test_alert_threshold_of_exactly_one_is_accepted() -> None:
    assert parse_config(doc(alertThreshold=1)).alert_threshold == 1.0
    assert one_site(alertThreshold=1).alert_threshold == 1.0


def test_name_defaults_to_empty_and_is_stripped() -> None:
    assert one_site().name == ""
    assert one_site(name="  Example  ").name == "Example"


def test_label_is_name_or_url() -> None:
    assert one_site(name="Example").label == "Example"
    assert one_site().label == URL


def test_retention_days() -> None:
    assert parse_config(doc()).retention_days is None
    assert parse_config(doc(retentionDays=30)).retention_days == 30.0
    assert parse_config(doc(retentionDays=0.5)).retention_days == 0.5


PROCESSES = 'processes: must be "auto" or a whole number from 1 to 64'


def test_processes() -> None:
    assert parse_config(doc()).processes is None
    assert parse_config(doc(processes="auto")).processes is None
    assert parse_config(doc(processes=1)).processes == 1
    assert parse_config(doc(processes=64)).processes == 64


def test_max_workers_and_max_body_bytes() -> None:
    config = parse_config(doc({"URL": URL}, {"URL": "https://b.example/", "maxBodyBytes": 512},
                              maxWorkers=8, maxBodyBytes=4096))
    assert config.max_workers == 8
    assert [s.spec.max_body_bytes for s in config.monitors] == [4096, 512]


def test_type_defaults_to_http_and_accepts_registered_kinds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert one_site().kind == "http"
    assert one_site(type="http").kind == "http"
    echo = dataclasses.replace(registry.get("http"), name="echo")  # any kind registered
    monkeypatch.setitem(registry._KINDS, "echo", echo)
    assert one_site(type="echo").kind == "echo"
    # Every kind built in, loaded or not, and those registered.
    assert config_error(parse_config, doc({"URL": URL, "type": "ping"})) == (
        "config.json: websites[0].type: must be one of: content, cpu, disk, dns, echo, http,"
        " load, log, memory, metric, process, push, tcp, tls"
    )


def test_url_whitespace_is_stripped() -> None:
    assert one_site(URL="  \thttps://example.com/health \n").target == "https://example.com/health"


def test_url_may_have_port_path_query_credentials_and_uppercase_scheme() -> None:
    for url in ("http://localhost:8080/health?full=1#x", "https://user:pw@example.com/",
                "HTTPS://EXAMPLE.COM/", "http://[::1]:8080/", "http://127.0.0.1/"):
        assert one_site(URL=url).spec.url == url
    # The site's key (stored, printed, alerted on) has the password masked.
    assert one_site(URL="https://user:pw@example.com/").target == "https://user:***@example.com/"


def test_sites_keep_file_order() -> None:
    urls = [f"https://site{i}.example/" for i in range(5)]
    config = parse_config(doc(*({"URL": u} for u in urls)))
    assert [s.id for s in config.monitors] == urls


def test_integer_and_float_numbers_become_floats() -> None:
    site = one_site(checkInterval=5, timeout=1, alertWindow=60)
    assert (site.interval, site.timeout, site.alert_window) == (5.0, 1.0, 60.0)
    assert all(isinstance(v, float) for v in (site.interval, site.timeout, site.alert_window))


def test_load_config_reads_file_and_records_source(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(doc({"URL": URL, "name": "Café ☕"}), encoding="utf-8")
    for arg in (path, str(path)):
        config = load_config(arg)
        assert config.source == str(path)
        assert config.monitors[0].name == "Café ☕"


def test_repository_example_config_is_valid() -> None:
    config = load_config(ROOT / "config.json")
    assert len(config.monitors) >= 1


def test_source_is_not_part_of_equality() -> None:
    assert parse_config(doc(), "a.json") == parse_config(doc(), "b.json")


def test_config_error_is_a_monitor_error() -> None:
    assert issubclass(ConfigError, MonitorError)


# ------------------------------------------------------------------ file-level errors


def test_file_not_found(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"
    assert config_error(load_config, path) == f"{path}: file not found"


def test_directory(tmp_path: Path) -> None:
    assert config_error(load_config, tmp_path) == f"{tmp_path}: is a directory, not a file"


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.json"
    data = b'{"websites": [{"URL": "https://example.com/", "name": "caf\xe9"}]}'
    path.write_bytes(data)
    assert data.index(b"\xe9") == 58
    assert config_error(load_config, path) == f"{path}: not UTF-8 text (byte 58)"


def test_invalid_json_reports_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(
        '{\n'
        '  "websites": [\n'
        '    {"URL": "https://example.com/",}\n'
        '  ]\n'
        '}\n',
        encoding="utf-8",
    )
    assert config_error(load_config, path) == (
        f"{path}: invalid JSON at line 3, column 36: "
        "Expecting property name enclosed in double quotes"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "invalid JSON at line 1, column 1: Expecting value"),
        ('{"websites": [1, 2,]}', "invalid JSON at line 1, column 20: Expecting value"),
        ('{"websites": []}\n{}', "invalid JSON at line 2, column 1: Extra data"),
        ('{"websites": "abc', "invalid JSON at line 1, column 14: Unterminated string"),
        ('{"websites": "a\nb"}', "invalid JSON at line 1, column 16: Invalid control character"),
        ("{'websites': []}",
         "invalid JSON at line 1, column 2: Expecting property name enclosed in double quotes"),
        ("\ufeff{}", "invalid JSON at line 1, column 1: "
                     "Unexpected UTF-8 BOM (decode using utf-8-sig)"),
        ("[" * 100_000 + "]" * 100_000, "invalid JSON: nested too deeply"),
        ('{"maxWorkers": ' + "9" * 5000 + "}", "invalid JSON: a number has too many digits"),
    ],
    ids=["empty", "trailing-comma", "extra-data", "unterminated", "control-char",
         "single-quotes", "bom", "too-deep", "too-many-digits"],
)
def test_invalid_json(text: str, message: str) -> None:
    assert config_error(parse_config, text) == f"config.json: {message}"


# ------------------------------------------------------------------ document errors


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # root
        ("[]", "(root): must be a JSON object"),
        ('"config"', "(root): must be a JSON object"),
        ("null", "(root): must be a JSON object"),
        ("42", "(root): must be a JSON object"),
        # websites
        ("{}", 'monitors: is required (the list of monitors to check; also accepted as'
               ' "websites")'),
        ('{"alertWindow": 60}', 'monitors: is required (the list of monitors to check; also'
                                ' accepted as "websites")'),
        ('{"websites": {"URL": "https://example.com/"}}',
         "websites: must be a list of monitor objects"),
        ('{"websites": "https://example.com/"}', "websites: must be a list of monitor objects"),
        ('{"websites": null}', "websites: must be a list of monitor objects"),
        ('{"websites": []}', "websites: must contain at least one monitor"),
        # site entries
        ('{"websites": ["https://example.com/"]}', "websites[0]: must be an object with a URL"),
        ('{"websites": [{"URL": "https://a.example/"}, null]}',
         "websites[1]: must be an object with a URL"),
        ('{"websites": [{}]}', "websites[0].URL: is required"),
        ('{"websites": [{"name": "x"}]}', "websites[0].URL: is required"),
        # the list by its name: every path says the key the file used
        ('{"monitors": {"URL": "https://example.com/"}}',
         "monitors: must be a list of monitor objects"),
        ('{"monitors": []}', "monitors: must contain at least one monitor"),
        ('{"monitors": [{"URL": "https://a.example/"}, null]}',
         "monitors[1]: must be an object with a URL"),
        ('{"monitors": [{"URL": "https://a.example/", "checkInterval": 0}]}',
         f"monitors[0].checkInterval: {DURATION}"),
        ('{"monitors": [{"URL": "https://a.example/", "maintenance": [{"for": "1h"}]}]}',
         "monitors[0].maintenance[0].every: is required"),
        ('{"monitors": [{"URL": "https://a.example/"}], "websites": [{"URL": "https://b/"}]}',
         'websites: is the older name of "monitors": give one of them, not both'),
        ('{"websites": [], "monitors": []}',
         'websites: is the older name of "monitors": give one of them, not both'),
        ('{"monitor": [{"URL": "https://a.example/"}]}',
         'monitor: unknown key (did you mean "monitors"?)'),
    ],
)
def test_structure_errors(text: str, message: str) -> None:
    assert config_error(parse_config, text) == f"config.json: {message}"


def test_monitors_and_websites_are_one_list_by_two_names() -> None:
    entries = [{"URL": "https://a.example/", "name": "a", "checkInterval": 5},
               {"URL": "https://b.example/", "id": "b", "notifyOn": ["alert"]}]
    by_new = parse_config(json.dumps({"monitors": entries, "defaultCheckInterval": 7}))
    by_old = parse_config(json.dumps({"websites": entries, "defaultCheckInterval": 7}))
    assert by_new == by_old
    assert [(m.id, m.interval) for m in by_new.monitors] == [("https://a.example/", 5.0),
                                                             ("b", 7.0)]
    assert by_new.warnings == by_old.warnings == ()  # `websites` is no deprecated spelling


URL_HOST = "must be an http:// or https:// URL with a host"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (8080, "must be a non-empty string"),
        (None, "must be a non-empty string"),
        (["https://example.com/"], "must be a non-empty string"),
        ("", "must be a non-empty string"),
        ("  \t ", "must be a non-empty string"),
        ("ftp://example.com/file", URL_HOST),
        ("file:///etc/passwd", URL_HOST),
        ("example.com", URL_HOST),
        ("//example.com/", URL_HOST),
        ("http://", URL_HOST),
        ("https:///path", URL_HOST),
        ("http://example.com:http/",
         "is not a valid URL: Port could not be cast to integer value as 'http'"),
        ("http://example.com:70000/", "is not a valid URL: Port out of range 0-65535"),
        ("http://[::1/", "is not a valid URL: Invalid IPv6 URL"),
        ("https://example.com/a page", "must not contain spaces"),
        ("https://exa mple.com/", "must not contain spaces"),
        ("ftp://exa mple.com/", "must not contain spaces"),
        ("https://example.com/\u2028x", "must not contain spaces"),
        ("https://example.com/\x00", "must not contain control or invisible characters"),
        ("https://example.com/\x7f", "must not contain control or invisible characters"),
        ("https://\ud800.example/", "must not contain control or invisible characters"),
    ],
)
def test_url_errors(url: Any, message: str) -> None:
    assert config_error(parse_config, doc({"URL": url})) == (
        f"config.json: websites[0].URL: {message}")


def test_url_nfkc_error_names_the_host() -> None:
    assert config_error(parse_config, doc({"URL": "http://a\u2100b/"})) == (
        "config.json: websites[0].URL: is not a valid URL: "
        "netloc 'a\u2100b' contains invalid characters under NFKC normalization"
    )


def test_duplicate_url_names_the_first_index() -> None:
    text = doc({"URL": "https://a.example/"}, {"URL": URL}, {"URL": "https://c.example/"},
               {"URL": " https://example.com/ "})
    assert config_error(parse_config, text) == (
        'config.json: websites[3].URL: duplicate of websites[1].URL: both make the id'
        ' "https://example.com/"; give one of them an "id"')


def test_error_in_a_later_site_names_its_index() -> None:
    text = doc({"URL": "https://a.example/"}, {"URL": "https://b.example/"},
               {"URL": "https://c.example/", "checkInterval": 0})
    assert config_error(parse_config, text) == (
        f"config.json: websites[2].checkInterval: {DURATION}"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (doc(alertTreshold=0.5),
         'alertTreshold: unknown key (did you mean "alertThreshold"?)'),
        (doc(website=[]), 'website: unknown key (did you mean "websites"?)'),
        (doc(defaultInterval=5),
         'defaultInterval: unknown key (did you mean "defaultCheckInterval"?)'),
        (doc(colour="blue"), "colour: unknown key"),
        (doc({"URL": URL, "checkIntervall": 5}),
         'websites[0].checkIntervall: unknown key (did you mean "checkInterval"?)'),
        (doc({"URL": URL, "timout": 5}),
         'websites[0].timout: unknown key (did you mean "timeout"?)'),
        (doc({"URL": URL, "url": URL}), 'websites[0].url: unknown key (did you mean "URL"?)'),
        (doc({"URL": URL, "Url": URL}), 'websites[0].Url: unknown key (did you mean "URL"?)'),
        (doc({"URL": URL, "checkinterval": 5}),
         'websites[0].checkinterval: unknown key (did you mean "checkInterval"?)'),
        (doc(Websites=[]), 'Websites: unknown key (did you mean "websites"?)'),
        (doc({"URL": URL, "header": {}}),
         'websites[0].header: unknown key (did you mean "headers"?)'),
        (doc({"URL": URL, "retentionDays": 3}), "websites[0].retentionDays: unknown key"),
        (doc({"URL": URL, "check interval": 5}),
         'websites[0]."check interval": unknown key (did you mean "checkInterval"?)'),
        (doc({"URL": URL, "a\nb": 1}), 'websites[0]."a\\nb": unknown key'),
        (doc({"URL": URL, "": 1}), 'websites[0]."": unknown key'),
        (json.dumps({"x\r\ny": 1}), '"x\\r\\ny": unknown key'),
    ],
)
def test_unknown_keys(text: str, message: str) -> None:
    assert config_error(parse_config, text) == f"config.json: {message}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"websites": [{"URL": "https://example.com/"}], "alertWindow": 60, "alertWindow": 90}',
         "alertWindow: key appears more than once"),
        ('{"websites": [{"URL": "https://a.example/"}], "websites": [{"URL": "https://b.example/"}]}',
         "websites: key appears more than once"),
        ('{"websites": [{"URL": "https://a.example/", "URL": "https://b.example/"}]}',
         "websites[0].URL: key appears more than once"),
        ('{"websites": [{"URL": "https://a.example/", "name": "a", "name": "a"}]}',
         "websites[0].name: key appears more than once"),
        ('{"websites": [{"URL": "https://a.example/"}], "a\\tb": 1, "a\\tb": 2}',
         '"a\\tb": key appears more than once'),
    ],
)
def test_duplicate_keys(text: str, message: str) -> None:
    assert config_error(parse_config, text) == f"config.json: {message}"


POSITIVE = "must be a number greater than 0"
FRACTION = "must be a number greater than 0 and at most 1"
WHOLE = "must be a whole number greater than 0"


@pytest.mark.parametrize("value", ["0", "-5", "-0.0", '"5 minutes"', '"5x"', "true", "false",
                                   "null", "[5]", "{}", "NaN", "Infinity", "-Infinity", "1e400",
                                   "1" + "0" * 400])
def test_check_interval_refused(value: str) -> None:
    text = '{"websites": [{"URL": "https://example.com/", "checkInterval": ' + value + "}]}"
    assert config_error(parse_config, text) == f"config.json: websites[0].checkInterval: {DURATION}"


@pytest.mark.parametrize(
    ("top", "site", "message"),
    [
        ({"defaultCheckInterval": 0}, {}, f"defaultCheckInterval: {DURATION}"),
        ({"defaultCheckInterval": "two"}, {}, f"defaultCheckInterval: {DURATION}"),
        ({"alertWindow": -120}, {}, f"alertWindow: {DURATION}"),
        ({"retentionDays": 0}, {}, f"retentionDays: {POSITIVE}"),
        ({"retentionDays": None}, {}, f"retentionDays: {POSITIVE}"),
        ({"alertThreshold": 0}, {}, f"alertThreshold: {FRACTION}"),
        ({"alertThreshold": 1.5}, {}, f"alertThreshold: {FRACTION}"),
        ({"alertThreshold": 80}, {}, f"alertThreshold: {FRACTION}"),
        ({"alertThreshold": True}, {}, f"alertThreshold: {FRACTION}"),
        ({"maxWorkers": 0}, {}, f"maxWorkers: {WHOLE}"),
        ({"maxWorkers": 1.5}, {}, f"maxWorkers: {WHOLE}"),
        ({"maxWorkers": 4.0}, {}, f"maxWorkers: {WHOLE}"),
        ({"maxWorkers": -3}, {}, f"maxWorkers: {WHOLE}"),
        ({"maxWorkers": True}, {}, f"maxWorkers: {WHOLE}"),
        ({"maxBodyBytes": "1MB"}, {}, f"maxBodyBytes: {WHOLE}"),
        ({"processes": 0}, {}, PROCESSES),
        ({"processes": 65}, {}, PROCESSES),
        ({"processes": 2.0}, {}, PROCESSES),
        ({"processes": True}, {}, PROCESSES),
        ({"processes": "2"}, {}, PROCESSES),
        ({"processes": "Auto"}, {}, PROCESSES),
        ({"processes": None}, {}, PROCESSES),
        ({}, {"timeout": 0}, f"websites[0].timeout: {DURATION}"),
        ({}, {"timeout": -1}, f"websites[0].timeout: {DURATION}"),
        ({}, {"timeout": "ten seconds"}, f"websites[0].timeout: {DURATION}"),
        ({}, {"alertWindow": 0}, f"websites[0].alertWindow: {DURATION}"),
        ({}, {"alertThreshold": 0}, f"websites[0].alertThreshold: {FRACTION}"),
        ({}, {"alertThreshold": 1.5}, f"websites[0].alertThreshold: {FRACTION}"),
        ({}, {"alertThreshold": "80%"}, f"websites[0].alertThreshold: {FRACTION}"),
        ({}, {"maxBodyBytes": 0}, f"websites[0].maxBodyBytes: {WHOLE}"),
        ({}, {"maxBodyBytes": 10.5}, f"websites[0].maxBodyBytes: {WHOLE}"),
        ({}, {"name": ""}, "websites[0].name: must be a non-empty string"),
        ({}, {"name": "   "}, "websites[0].name: must be a non-empty string"),
        ({}, {"name": 42}, "websites[0].name: must be a non-empty string"),
        ({}, {"name": None}, "websites[0].name: must be a non-empty string"),
        ({}, {"type": "ping"}, f"websites[0].type: must be one of: {KINDS}"),
        ({}, {"type": "HTTP"}, f"websites[0].type: must be one of: {KINDS}"),
        ({}, {"type": None}, f"websites[0].type: must be one of: {KINDS}"),
        ({}, {"type": ["http"]}, f"websites[0].type: must be one of: {KINDS}"),
        ({}, {"type": {"kind": "http"}}, f"websites[0].type: must be one of: {KINDS}"),
    ],
)
def test_value_errors(top: dict[str, Any], site: dict[str, Any], message: str) -> None:
    assert config_error(parse_config, doc({"URL": URL, **site}, **top)) == f"config.json: {message}"


CANARY = "https://canary.example/"


@pytest.mark.parametrize(
    ("top", "site", "message"),
    [
        # Issue 10: 1e300 days was accepted, and the hourly purge then overflowed.
        ({"retentionDays": 1e300}, {}, "retentionDays: must be at most 36500"),
        ({"retentionDays": 36500.01}, {}, "retentionDays: must be at most 36500"),
        ({"defaultCheckInterval": 1e300}, {}, "defaultCheckInterval: must be at most 1d"),
        ({"defaultCheckInterval": 0.001}, {}, "defaultCheckInterval: must be at least 0.01s"),
        ({"alertWindow": 86401}, {}, "alertWindow: must be at most 1d"),
        ({"maxWorkers": 10_001}, {}, "maxWorkers: must be at most 10000"),
        ({"maxWorkers": 10**400}, {}, "maxWorkers: must be at most 10000"),
        ({"maxBodyBytes": 1024**3 + 1}, {}, "maxBodyBytes: must be at most 1073741824"),
        ({}, {"checkInterval": 1e300}, "websites[0].checkInterval: must be at most 1d"),
        ({}, {"checkInterval": 0.0099}, "websites[0].checkInterval: must be at least 0.01s"),
        ({}, {"checkInterval": 5e-324}, "websites[0].checkInterval: must be at least 0.01s"),
        ({}, {"timeout": 1e300}, "websites[0].timeout: must be at most 1d"),
        ({}, {"alertWindow": 86400.5}, "websites[0].alertWindow: must be at most 1d"),
        ({}, {"maxBodyBytes": 10**400}, "websites[0].maxBodyBytes: must be at most 1073741824"),
        ({"canary": {"URL": CANARY, "checkInterval": 1e300}}, {},
         "canary.checkInterval: must be at most 1d"),
        ({"canary": {"URL": CANARY, "timeout": 1e9}}, {}, "canary.timeout: must be at most 1d"),
        ({"canary": {"URL": CANARY, "checkInterval": 0.001}}, {},
         "canary.checkInterval: must be at least 0.01s"),
    ],
)
def test_numbers_out_of_range(top: dict[str, Any], site: dict[str, Any], message: str) -> None:
    assert config_error(parse_config, doc({"URL": URL, **site}, **top)) == f"config.json: {message}"


def test_numbers_at_their_bounds_are_accepted() -> None:
    config = parse_config(doc(
        {"URL": URL, "checkInterval": 0.01, "timeout": 86400, "alertWindow": 86400,
         "maxBodyBytes": 1024**3},
        {"URL": "https://b.example/", "checkInterval": 86400},
        defaultCheckInterval=86400, alertWindow=0.01, retentionDays=36500, maxWorkers=10_000,
        maxBodyBytes=1, canary={"URL": CANARY, "checkInterval": 0.01, "timeout": 86400}))
    first, second = config.monitors
    assert (first.interval, first.timeout, first.alert_window, first.spec.max_body_bytes) == (
        0.01, 86400.0, 86400.0, 1024**3)
    assert (second.interval, second.timeout, second.alert_window, second.spec.max_body_bytes) == (
        86400.0, 10.0, 0.01, 1)
    assert (config.default_check_interval, config.retention_days, config.max_workers) == (
        86400.0, 36500.0, 10_000)
    assert config.canary is not None
    assert (config.canary.interval, config.canary.timeout) == (0.01, 86400.0)


def test_the_program_handles_every_number_at_its_bound(hostile, tmp_path: Path) -> None:
    # The bounds are what the program can handle: a monitor with each number at its most
    # (and the interval at its least) checks, purges and stops without an error.
    config = parse_config(doc(
        {"URL": f"{hostile.base}/ok?fast", "checkInterval": 0.01, "timeout": 86400,
         "alertWindow": 86400},
        {"URL": f"{hostile.base}/ok?slow", "checkInterval": 86400},
        alertWindow=86400, retentionDays=36500, maxWorkers=10_000, maxBodyBytes=1024**3,
        canary={"URL": f"{hostile.base}/ok?canary", "checkInterval": 86400,
                "timeout": 86400}))
    errors: list[str] = []
    db = tmp_path / "m.db"
    engine = Engine(config, Store(db, on_error=errors.append), on_error=errors.append)
    engine.start()  # its first purge, 100 years back, is queued at the start
    try:
        wait_for(lambda: engine.store.flush() and count_checks(db) >= 20, 10, "checks")
    finally:
        engine.stop()
    assert errors == []


def test_error_message_uses_the_given_source() -> None:
    assert config_error(parse_config, "[]", "/etc/monitor/sites.json") == (
        "/etc/monitor/sites.json: (root): must be a JSON object"
    )
    assert config_error(parse_config, "[]") == "config.json: (root): must be a JSON object"


def test_first_error_wins_and_top_level_is_checked_before_sites() -> None:
    text = doc({"URL": "ftp://x/", "checkInterval": 0}, alertThreshold=2)
    assert config_error(parse_config, text) == f"config.json: alertThreshold: {FRACTION}"
    text = doc({"URL": "ftp://x/", "checkInterval": 0, "bogus": 1})
    assert config_error(parse_config, text) == "config.json: websites[0].bogus: unknown key"


# ------------------------------------------------------------------------ display_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:pw@host/", "http://user:***@host/"),
        ("https://admin:s3cr3t@example.com:8443/status?x=1#top",
         "https://admin:***@example.com:8443/status?x=1#top"),
        ("http://user:p@ss@host/", "http://user:***@host/"),
        ("http://:pw@host/", "http://:***@host/"),
        ("http://user:@host/", "http://user:***@host/"),
        ("http://user@host/", "http://user@host/"),
        ("https://example.com/", "https://example.com/"),
        ("http://localhost:8080/health?token=abc", "http://localhost:8080/health?token=***"),
        ("http://h/s?page=2&api_key=k1&Signature=zz", "http://h/s?page=2&api_key=***&Signature=***"),
        ("http://h/s?page=2&full=1", "http://h/s?page=2&full=1"),
        ("http://[::1]:8080/", "http://[::1]:8080/"),
    ],
)
def test_display_url(url: str, shown: str) -> None:
    assert display_url(url) == shown


def test_display_url_never_shows_the_password() -> None:
    assert "hunter2" not in display_url("https://bob:hunter2@example.com/hunter")
    assert display_url("https://bob:hunter2@example.com/hunter") == (
        "https://bob:***@example.com/hunter"
    )


# ------------------------------------------------------- secrets, headers, TLS, canary

def test_env_variables_expand_in_urls_headers_and_ca_file(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MON_HOST", "status.example.com")
    monkeypatch.setenv("MON_PASS", "pa55-w0rd")
    monkeypatch.setenv("MON_TOKEN", "tok-123456")
    (tmp_path / "ca.pem").write_text("not checked until used\n")
    monkeypatch.setenv("MON_CA", "ca.pem")
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"websites": [{
        "URL": "https://ops:${MON_PASS}@${MON_HOST}/health?api_key=${MON_TOKEN}",
        "headers": {"Authorization": "Bearer ${MON_TOKEN}", "X-Note": "cost $${5}"},
        "caFile": "${MON_CA}"}]}))
    site = load_config(path).monitors[0]
    assert site.spec.url == "https://ops:pa55-w0rd@status.example.com/health?api_key=tok-123456"
    assert site.id == "https://ops:***@status.example.com/health?api_key=***"
    assert site.spec.headers == (("Authorization", "Bearer tok-123456"), ("X-Note", "cost ${5}"))
    assert site.spec.ca_file == str(tmp_path / "ca.pem")  # relative to the config file
    assert {"pa55-w0rd", "tok-123456", "Bearer tok-123456"} <= set(site.secrets)
    assert "status.example.com" not in site.secrets  # a host from the environment is shown
    assert not any(secret in repr(site) for secret in site.secrets)


def test_values_from_the_environment_are_masked_wherever_they_sit(monkeypatch) -> None:
    monkeypatch.setenv("BOT_TOKEN", "123456:AAbbCC")
    monkeypatch.setenv("BAD_PW", "abc/def:gh")
    site = parse_config(json.dumps({"websites": [
        {"URL": "https://api.example/bot${BOT_TOKEN}/getMe?pass=x1y2z3"}]})).monitors[0]
    assert site.id == "https://api.example/bot***/getMe?pass=***"
    assert "123456%3AAAbbCC" in site.secrets  # as an error would quote it, encoded
    # A parser's complaint about a value from the environment does not repeat it.
    message = config_error(parse_config, json.dumps({"websites": [{"URL": "https://u:${BAD_PW}@h.example/"}]}))
    assert "abc" not in message and message.startswith("config.json: websites[0].URL: ")


def test_tls_verify_and_defaults() -> None:
    site = one_site()
    assert (site.spec.tls_verify, site.spec.ca_file, site.spec.headers) == (True, None, ())
    assert one_site(tlsVerify=False).spec.tls_verify is False


def test_canary_as_url_or_object() -> None:
    config = parse_config(json.dumps({"websites": [{"URL": URL}],
                                      "canary": "https://canary.example/"}))
    assert config.canary is not None
    assert (config.canary.target, config.canary.name, config.canary.interval,
            config.canary.timeout) == ("https://canary.example/", "canary", 10.0, 3.0)
    config = parse_config(json.dumps({"websites": [{"URL": URL}], "canary": {
        "URL": "https://canary.example/", "checkInterval": 2, "timeout": 1}}))
    assert (config.canary.interval, config.canary.timeout) == (2.0, 1.0)
    assert parse_config(doc({"URL": URL})).canary is None
    assert config_error(parse_config, doc({"URL": URL}, canary="ftp://x/")) == (
        "config.json: canary: must be an http:// or https:// URL with a host")


# ---------------------------------------------------------------- the bad-config corpus

BAD_FILES = sorted(p for p in BAD_DIR.iterdir() if p.is_file() or p.is_symlink())
JSON_POSITION = re.compile(r"^invalid JSON at line \d+, column \d+: \S")
PATH_HEAD = re.compile(r'^(\(root\)|"(?:[^"\\]|\\.)*"|[A-Za-z_][A-Za-z0-9_]*)')


def test_bad_corpus_is_large_and_varied() -> None:
    assert len(BAD_FILES) >= 40
    messages = {config_error(load_config, p).partition(": ")[2] for p in BAD_FILES}
    assert len(messages) >= 40


@pytest.mark.parametrize("path", BAD_FILES, ids=[p.name for p in BAD_FILES])
def test_bad_config_file_is_refused_with_a_one_line_message(path: Path) -> None:
    message = config_error(load_config, str(path))
    assert message.splitlines() == [message]
    assert message.startswith(f"{path}: ")
    rest = message[len(f"{path}: "):]
    if (
        JSON_POSITION.match(rest)
        or rest.startswith("not UTF-8 text (byte ")
        or rest == "file not found"
    ):
        return
    head = PATH_HEAD.match(rest)
    assert head, rest
    json_path, _, what = rest.partition(": ")
    assert what, rest
    assert (
        json_path == "(root)"
        or json_path == "websites"
        or re.match(r"^websites\[\d+\](\.|$)", json_path)
        or json_path in TOP_KEYS
        or re.match(r"^canary(\.|$)", json_path)
        or what.startswith("unknown key")
    ), rest


def test_the_program_refuses_an_absurd_number_with_one_line_and_exit_2() -> None:
    path = BAD_DIR / "retention_days_huge.json"
    done = run_app(["--validate", "-c", str(path)], None, timeout=30)
    assert (done.returncode, done.stdout, done.stderr) == (
        2, "", f"Error: {path}: retentionDays: must be at most 36500\n")


# ---------------------------------------------------------------------- property tests

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)


def check_outcome(text: str, source: str = "cfg.json") -> None:
    """parse_config returns a Config or raises a one-line ConfigError naming the source."""
    try:
        result = parse_config(text, source)
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith(f"{source}: "), message
        assert message.splitlines() == [message], message
    else:
        assert isinstance(result, Config)
        assert result.monitors
        for site in result.monitors:
            assert site.interval > 0 and site.timeout > 0
            assert 0 < site.alert_threshold <= 1


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES)
def test_arbitrary_json_documents(document: Any) -> None:
    check_outcome(json.dumps(document))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from([*TOP_KEYS, "website", "x\ny"]), JSON_VALUES,
                       max_size=4))
def test_arbitrary_top_level_objects(document: dict[str, Any]) -> None:
    check_outcome(json.dumps(document))


SITE_KEYS = config_mod.COMMON_KEYS + HTTP_KEYS

URLS = st.sampled_from([URL, "http://localhost:8080/", "ftp://x/", "http://", "", " ",
                        "http://a:99999/", "http://[::1/", "https://a b/", "http://a\u2100b/"])
SITE_VALUES = st.one_of(JSON_VALUES, URLS, st.floats(min_value=-1, max_value=2),
                        st.sampled_from([0, 1, 0.5, 2, 30, "http", True]))


SITE_OBJECTS = st.fixed_dictionaries(
    {"URL": st.one_of(st.just(URL), URLS)},
    optional={key: SITE_VALUES for key in SITE_KEYS if key != "URL"},
)


@settings(max_examples=200, deadline=None)
@given(st.lists(SITE_OBJECTS, min_size=1, max_size=3))
def test_arbitrary_site_fields(sites: list[dict[str, Any]]) -> None:
    check_outcome(json.dumps({"websites": sites}))


@st.composite
def mutated_configs(draw: st.DrawFn) -> str:
    """A valid config with a few keys set to other values, removed, or added."""
    sites: list[Any] = [{"URL": f"https://s{i}.example/", "checkInterval": 5}
                        for i in range(draw(st.integers(1, 3)))]
    document: dict[str, Any] = {"websites": sites, "alertWindow": 60, "alertThreshold": 0.8}
    for _ in range(draw(st.integers(1, 4))):
        target = draw(st.sampled_from(["top", "site", "replace-site"]))
        index = draw(st.integers(0, len(sites) - 1))
        if target == "top":
            key = draw(st.sampled_from([*TOP_KEYS, "alertTreshold"]) | st.text(max_size=8))
            obj: dict[str, Any] = document
        elif target == "site" and isinstance(sites[index], dict):
            key = draw(st.sampled_from([*SITE_KEYS, "checkIntervall"]) | st.text(max_size=8))
            obj = sites[index]
        else:
            sites[index] = draw(SITE_VALUES)
            continue
        if draw(st.booleans()) and key in obj:
            del obj[key]
        else:
            obj[key] = draw(SITE_VALUES)
    text = json.dumps(document)
    if draw(st.integers(0, 4)) == 0:  # sometimes break the JSON text itself
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.sampled_from(["", ",", "}", "NaN", "\n", '"', "\\"])) \
            + text[cut + draw(st.integers(0, 3)):]
    return text


@settings(max_examples=200, deadline=None)
@given(mutated_configs())
def test_mutated_valid_configs(text: str) -> None:
    check_outcome(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text(text: str) -> None:
    check_outcome(text)


def test_a_utf8_byte_order_mark_in_the_file_is_accepted(tmp_path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + b'{"websites": [{"URL": "http://a.test/"}]}')
    assert [site.id for site in load_config(path).monitors] == ["http://a.test/"]


def test_max_in_flight_is_a_whole_number_or_left_to_the_open_files() -> None:
    assert parse_config(doc()).max_in_flight is None
    assert parse_config(json.dumps({"websites": [{"URL": URL}], "maxInFlight": 64})
                        ).max_in_flight == 64
    assert config_error(parse_config, doc({"URL": URL}, maxInFlight=0)) == (
        "config.json: maxInFlight: must be a whole number greater than 0")
