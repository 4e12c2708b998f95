"""The config's JSON Schema: complete (every key the loader reads has a fragment), valid
draft 2020-12, accepting every example config of the repo and its docs, and refusing what
the loader refuses wherever a schema can say it (types, unknown keys, bounds)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from monitor import config
from monitor.checks import registry
from monitor.checks.http import expect
from monitor.config import maintenance, notify, parse_config, rules, web
from monitor.config.example import EXAMPLE
from monitor.config.schema import MissingSchema, config_schema
from tests.support.config import URL, config_error

ROOT = Path(__file__).resolve().parents[2]
BAD_DIR = Path(__file__).parent / "bad"
# Bad configs of the corpus that only the loader can refuse: what they get wrong is not a
# value's type, key or bound (a key twice, the environment, a file, a port in a URL's text,
# ids unique, a NaN).
LOADER_ONLY = {
    "ca_file_missing.json", "duplicate_site_key.json", "duplicate_top_key.json",
    "env_var_missing.json", "interval_nan.json",
    "url_bad_ipv6.json", "url_bad_port.json", "url_port_out_of_range.json",
    "url_duplicate.json",
}


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(config_schema(strict=True))


def refused(validator: jsonschema.Draft202012Validator, document: Any) -> list[str]:
    return [error.message for error in validator.iter_errors(document)]


def test_the_schema_is_valid_draft_2020_12_and_complete() -> None:
    schema = config_schema(strict=True)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(schema["properties"]) == {*config.TOP_KEYS, *registry.top_keys()}
    monitor = schema["$defs"]["monitor"]
    assert set(monitor["properties"]) == set(config.COMMON_KEYS)
    assert monitor["properties"]["type"]["enum"] == [k.name for k in registry.built_in()]
    for kind in registry.built_in():
        own = schema["$defs"][f"kind.{kind.name}"]["properties"]
        assert set(own) == {*kind.keys, *(("plugins",) if kind.name == "http" else ())}
        # Each key described by its help text.
        assert all(own[key]["description"].startswith(kind.help[key][1]) for key in own)


def test_a_key_without_a_fragment_fails_the_strict_schema(monkeypatch) -> None:
    monkeypatch.delitem(config.SCHEMA, "paused")
    with pytest.raises(MissingSchema, match="'paused'"):
        config_schema(strict=True)
    # Served all the same, the key taking any value.
    assert config_schema()["$defs"]["monitor"]["properties"]["paused"]["description"]


def test_a_kind_key_without_a_fragment_fails_the_strict_schema(monkeypatch) -> None:
    tcp = registry.get("tcp")
    monkeypatch.setitem(registry._KINDS, "tcp", dataclasses.replace(
        tcp, schema={k: v for k, v in tcp.schema.items() if k != "send"}))
    with pytest.raises(MissingSchema, match="the tcp kind .* 'send'"):
        config_schema(strict=True)


@pytest.mark.parametrize(("keys", "shapes"), [
    (expect.KEYS, expect.CONDITIONS),
    (maintenance.ONE_OFF_KEYS, maintenance.WINDOW_SCHEMA["oneOf"][0]["properties"]),
    (maintenance.RECURRING_KEYS, maintenance.WINDOW_SCHEMA["oneOf"][1]["properties"]),
    (notify.PROVIDER_KEYS, notify.PROVIDER_SCHEMA["properties"]),
    (notify.TOP_KEYS, notify.SCHEMA),
    (notify.MONITOR_KEYS, notify.MONITOR_SCHEMA),
    (rules.KEYS, rules.SCHEMA),
    (web.TOP_KEYS, web.SCHEMA),
    (web.TOKEN_KEYS, web.TOKEN_SCHEMA["properties"]),
], ids=["expect", "one-off", "recurring", "provider", "notify", "monitor notify", "rules",
        "web", "token"])
def test_every_nested_key_has_a_fragment(keys: tuple[str, ...], shapes: dict) -> None:
    assert set(keys) == set(shapes)


def _doc_blocks() -> list[tuple[str, Any]]:
    """The JSON blocks of the docs and README that are whole configs or monitor entries."""
    found = []
    for path in [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]:
        for index, match in enumerate(re.finditer(r"```json\n(.*?)```", path.read_text(),
                                                  re.S)):
            try:
                document = json.loads(match[1])
            except ValueError:
                continue  # a fragment ("maintenance": [...])
            found.append((f"{path.name}[{index}]", document))
    return found


EXAMPLES = [("config.json", json.loads((ROOT / "config.json").read_text())),
            ("init", json.loads(EXAMPLE)), *_doc_blocks()]


@pytest.mark.parametrize(("where", "document"), EXAMPLES, ids=[w for w, _ in EXAMPLES])
def test_every_example_config_validates(validator, where: str, document: Any) -> None:
    if "monitors" in document or "websites" in document:
        assert refused(validator, document) == []
    elif "URL" in document or "type" in document:  # one monitor's entry
        assert refused(validator, {"monitors": [document]}) == []
    else:
        pytest.skip("neither a config nor a monitor")


def test_the_docs_hold_whole_configs() -> None:
    assert sum("monitors" in d or "websites" in d for _, d in EXAMPLES) >= 8


BAD = sorted(BAD_DIR.glob("*.json"))


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, OSError):  # not JSON, not UTF-8, a link to nothing
        return None


@pytest.mark.parametrize("path", BAD, ids=[p.name for p in BAD])
def test_a_bad_config_the_schema_can_judge_is_refused(validator, path: Path) -> None:
    document = _json(path)
    if document is None:
        pytest.skip("not JSON: no schema applies")
    errors = refused(validator, document)
    if path.name in LOADER_ONLY:
        assert errors == [], "now refused by the schema: take it out of LOADER_ONLY"
    else:
        assert errors


# Documents both refuse, beyond the corpus: each kind's types, unknown keys and bounds, and
# the keys of the server's issue (paused, tags, apiTokens).
INVALID = [
    {"monitors": [{"type": "tcp", "host": "h", "port": 0}]},
    {"monitors": [{"type": "tcp", "host": "h", "port": 1, "URL": URL}]},
    {"monitors": [{"type": "tls", "host": "h", "tlsMinDaysLeft": 4000}]},
    {"monitors": [{"type": "dns", "host": "example.com", "tcp": "yes"}]},
    {"monitors": [{"type": "disk", "path": "/", "maxPercent": 101}]},
    {"monitors": [{"type": "disk", "path": "relative"}]},
    {"monitors": [{"type": "load", "max": 0}]},
    {"monitors": [{"type": "process", "process": "x", "min": -1}]},
    {"monitors": [{"type": "log", "path": "/var/log/x", "format": "xml"}]},
    {"monitors": [{"type": "content", "URL": URL, "history": 1}]},
    {"monitors": [{"type": "cpu", "URL": URL}]},
    {"monitors": [{"URL": URL, "expect": {}}]},
    {"monitors": [{"URL": URL, "expect": {"status": 700}}]},
    {"monitors": [{"URL": URL, "expect": {"colour": 1}}]},
    {"monitors": [{"URL": URL, "paused": "yes"}]},
    {"monitors": [{"URL": URL, "tags": "a"}]},
    {"monitors": [{"URL": URL, "tags": ["a", "a"]}]},
    {"monitors": [{"URL": URL, "tags": [""]}]},
    {"monitors": [{"URL": URL, "notifyOn": ["bang"]}]},
    {"monitors": [{"URL": URL, "alertAfter": {"failures": 2}}]},
    {"monitors": [{"URL": URL, "alertAfter": 0}]},
    {"monitors": [{"URL": URL, "maintenance": {"from": "2026-01-01T00:00:00Z"}}]},
    {"monitors": [{"URL": URL, "maintenance": {"every": "day", "at": "25:00", "for": 60}}]},
    {"monitors": [{"URL": URL, "maintenance": {"every": ["mon"], "at": "01:00",
                                               "for": 60, "to": "x"}}]},
    {"monitors": [{"URL": URL, "plugins": ["cpu"]}]},
    {"monitors": [{"URL": URL}], "websites": [{"URL": URL}]},
    {"monitors": [{"URL": URL}], "processes": 0},
    {"monitors": [{"URL": URL}], "processes": "many"},
    {"monitors": [{"URL": URL}], "notify": [{"name": "x"}]},
    {"monitors": [{"URL": URL}], "notifyRetryFor": 700000},
    {"monitors": [{"URL": URL}], "heartbeatInterval": 0.5},
    {"monitors": [{"URL": URL}], "apiTokens": [{"name": "ci", "token": "short"}]},
    {"monitors": [{"URL": URL}], "apiTokens": [{"name": "ci", "token": "x" * 20,
                                                "scope": "admin"}]},
    {"monitors": [{"URL": URL}], "canary": {"type": "tcp", "host": "h", "port": 1}},
    {"monitors": [{"URL": URL}], "contentHistory": 5000},
]


@pytest.mark.parametrize("document", INVALID, ids=[json.dumps(d)[:70] for d in INVALID])
def test_what_the_loader_refuses_the_schema_refuses(validator, document: dict) -> None:
    message = config_error(parse_config, json.dumps(document))
    assert refused(validator, document), f"the schema accepts what the loader says: {message}"


def test_valid_configs_of_every_kind_validate(validator) -> None:
    document = {
        "$schema": "./config.schema.json",
        "monitors": [
            {"URL": "https://user:${PASS}@example.com/", "headers": {"X-Key": "${KEY}"},
             "expect": {"status": [200, "3xx"], "json": {"a.b": 1}}, "paused": True,
             "tags": ["web", "prod"], "alertAfter": {"failures": 2, "of": 3},
             "maintenance": [{"every": ["Sat", "sun"], "at": "02:00", "for": "1h",
                              "timezone": "Europe/Paris"}]},
            {"type": "tcp", "host": "127.0.0.1", "port": 22, "checkInterval": "30s"},
            {"type": "tls", "host": "example.com", "tlsMinDaysLeft": 20},
            {"type": "dns", "host": "example.com", "record": "MX", "expect": "10 mx."},
            {"type": "content", "URL": "https://example.com/", "ignoreTags": ["tr"]},
            {"type": "process", "match": "worker \\d+", "max": 4},
            {"type": "load", "max": 2, "warn": 1},
            {"type": "log", "path": "access.log", "maxErrorRate": 0.1},
        ],
        "processes": "auto", "plugins": ["tls"], "maxBodyBytes": 1000,
        "notify": [{"name": "ops", "url": "json://localhost/"}],
        "apiTokens": [{"name": "ci", "token": "${CI_TOKEN}", "scope": "write"}],
    }
    assert refused(validator, document) == []

