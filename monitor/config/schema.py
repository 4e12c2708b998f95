"""The JSON Schema (draft 2020-12) of `config.json`, made from the code's own tables: the
keys the loader reads (TOP_KEYS, COMMON_KEYS, each kind's `keys` and `top_keys`, the
notification, alert-rule and web keys), each key's fragment (`SCHEMA` beside its `HELP`,
`Kind.schema`) and its help text as the description. So an editor completes and checks
config.json with what the loader accepts, and a key added without a fragment fails
`config_schema(strict=True)` (the test that calls it) rather than going unchecked; the
schema served and printed takes any value for such a key.

A monitor is checked by its `type` (`http` when absent): one `if`/`then` per kind, and
`unevaluatedProperties: false` refuses a key that neither the common keys nor its kind
has. What a schema cannot say (a variable set, a file present, a regular expression that
compiles, ids unique, bounds between two keys) is the loader's alone."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from monitor import config
from monitor.checks import registry
from monitor.checks.registry import PluginError
from monitor.config import notify, rules, web
from monitor.core import schemas
from monitor.core.kind import Kind

__all__ = ["DIALECT", "MissingSchema", "config_schema"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"
Help = Mapping[str, tuple[str, str]]
Shapes = Mapping[str, Mapping[str, Any]]


class MissingSchema(LookupError):
    """A key the loader reads has no JSON Schema fragment beside its declaration."""


def config_schema(strict: bool = False) -> dict[str, Any]:
    """The config's JSON Schema: the built-in kinds and the outside kinds installed. A key
    without a fragment takes any value, or with `strict` raises MissingSchema (an outside
    kind's keys never do: its package may declare none)."""
    kinds = _kinds()
    names = [kind.name for kind in kinds]
    defs: dict[str, Any] = {f"kind.{kind.name}": _kind(kind, strict) for kind in kinds}
    common_helps = [notify.MONITOR_HELP, config.HELP, rules.HELP]
    common = _properties(config.COMMON_KEYS, [notify.MONITOR_SCHEMA, config.SCHEMA,
                                              rules.SCHEMA], common_helps, "COMMON_KEYS",
                         strict)
    common["type"] = {**common["type"], "enum": names, "default": config.SITE_KIND}
    defs["monitor"] = {
        "type": "object",
        "description": "a monitor: the keys every monitor has, and its kind's (`type`)",
        "properties": common,
        "allOf": [_by_type(name) for name in names],
        "unevaluatedProperties": False,
    }
    top_helps = [config.HELP, notify.HELP, rules.HELP, web.HELP]
    top = _properties(config.TOP_KEYS, [config.SCHEMA, notify.SCHEMA, rules.SCHEMA,
                                        web.SCHEMA], top_helps, "TOP_KEYS", strict)
    for kind in kinds:
        for key in kind.top_keys:
            top.setdefault(key, _shape(key, kind, strict))
    monitor = {"$ref": "#/$defs/monitor"}
    for key in config.LIST_KEYS:
        top[key] = {**top[key], "items": monitor}
    top["canary"] = {**top["canary"], "anyOf": [
        schemas.url(), {**monitor, "properties": {"type": {"const": config.SITE_KIND}}}]}
    top["plugins"] = {**top["plugins"], "items": {"enum": registry.on_sites()}}
    return {
        "$schema": DIALECT,
        "title": "config.json of uptime-monitor (monitoringApp.py)",
        "type": "object",
        "properties": top,
        "additionalProperties": False,
        "anyOf": [{"required": [key]} for key in config.LIST_KEYS],
        "not": {"required": list(config.LIST_KEYS)},
        "$defs": defs,
    }


def _kinds() -> list[Kind]:
    """The built-in kinds, then the outside kinds that load (one that does not is the
    loader's to report, when a config uses it)."""
    found = {kind.name: kind for kind in registry.built_in()}
    for name in registry.names():
        if name not in found:
            try:
                found[name] = registry.get(name)
            except (KeyError, PluginError):
                continue
    return list(found.values())


def _kind(kind: Kind, strict: bool) -> dict[str, Any]:
    """A kind's own keys, described; those whose help says `required` are required."""
    keys = [*kind.keys, *(("plugins",) if kind.name == config.SITE_KIND else ())]
    properties = {key: _shape(key, kind, strict) for key in keys}
    if kind.name == config.SITE_KIND:
        properties["plugins"] = {**properties["plugins"],
                                 "items": {"enum": registry.on_sites()}}
    required = [key for key in kind.keys if kind.help.get(key, ("",))[0] == "required"]
    return {"properties": properties, **({"required": required} if required else {})}


def _by_type(name: str) -> dict[str, Any]:
    """The kind's keys apply when `type` names it; an entry without `type` is http."""
    condition: dict[str, Any] = {"properties": {"type": {"const": name}}}
    if name != config.SITE_KIND:
        condition["required"] = ["type"]
    return {"if": condition, "then": {"$ref": f"#/$defs/kind.{name}"}}


def _shape(key: str, kind: Kind, strict: bool) -> dict[str, Any]:
    if key not in kind.schema:
        if strict and kind.name in registry.BUILT_IN:
            raise MissingSchema(f"the {kind.name} kind has no JSON Schema fragment for"
                                f" {key!r}: add it to its SCHEMA (Kind.schema)")
        return schemas.described({}, kind.help.get(key))
    return schemas.described(dict(kind.schema[key]), kind.help.get(key))


def _properties(keys: Iterable[str], shapes: Sequence[Shapes], helps: Sequence[Help],
                where: str, strict: bool) -> dict[str, Any]:
    """Each key's fragment and description, from the first table that has it."""
    out: dict[str, Any] = {}
    for key in keys:
        shape = next((table[key] for table in shapes if key in table), None)
        if shape is None and not strict:
            shape = {}
        if shape is None:
            raise MissingSchema(f"monitor/config ({where}): no JSON Schema fragment for"
                                f" {key!r}: add it to the SCHEMA beside its HELP")
        out[key] = schemas.described(dict(shape), next((h[key] for h in helps if key in h),
                                                       None))
    return out
