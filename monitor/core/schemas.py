"""JSON Schema fragments (draft 2020-12) for the config's values, one builder per kind of
field that `fields.Fields` checks: each key's declaration says its shape here, beside its
help text, and monitor.config.schema joins them into the config's schema.

A fragment says what a schema can: types, bounds, enumerations, a text's form. What only
the loader can say (a variable set, a file present, a regular expression that compiles, a
bound between two keys) stays the loader's; its message is the reference either way."""

from __future__ import annotations

from typing import Any

Fragment = dict[str, Any]

# A duration as timefmt.parse_duration reads a text: "90", "90s", "5m", "1.5h", "7d".
DURATION_TEXT = r"^\s*([0-9]+(\.[0-9]+)?|\.[0-9]+)\s*[smhd]?\s*$"
# Printable, and not blank: at least one character that is not a space.
TEXT = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"
# A character a URL may hold as written: neither a space nor a control character.
_URL_CHAR = r"[^\s\x00-\x1f\x7f]"


def boolean() -> Fragment:
    return {"type": "boolean"}


def text() -> Fragment:
    """A non-empty string (`Fields.text`, a URL, a path...)."""
    return {"type": "string", "minLength": 1, "pattern": TEXT}


def regex() -> Fragment:
    """A regular expression, Python's syntax (compiled by the loader)."""
    return {"type": "string", "minLength": 1}


def strings() -> Fragment:
    """A string or a non-empty list of non-empty strings (`Fields.strings`)."""
    return {"anyOf": [text(), {"type": "array", "minItems": 1, "items": text()}]}


def names(values: tuple[str, ...] | list[str] | None = None, least: int = 0) -> Fragment:
    """A list of names, each once; of `values` when given."""
    item: Fragment = {"enum": list(values)} if values is not None else text()
    return {"type": "array", "items": item, "uniqueItems": True, "minItems": least}


def integer(least: int = 1, most: int | None = None) -> Fragment:
    """A whole number from `least` to `most` (`Fields.integer`: least 1)."""
    out: Fragment = {"type": "integer", "minimum": least}
    if most is not None:
        out["maximum"] = most
    return out


def number(least: float, most: float) -> Fragment:
    """A number within [least, most] (`Fields.number`)."""
    return {"type": "number", "minimum": least, "maximum": most}


def positive(most: float, least: float = 0.0) -> Fragment:
    """A number greater than 0, at least `least`, at most `most` (`Fields.positive`)."""
    out: Fragment = {"type": "number", "exclusiveMinimum": 0, "maximum": most}
    if least > 0:
        out["minimum"] = least
    return out


def fraction() -> Fragment:
    """Greater than 0, at most 1 (`Fields.fraction`)."""
    return {"type": "number", "exclusiveMinimum": 0, "maximum": 1}


def duration(most: float, least: float = 0.0) -> Fragment:
    """A number of seconds within bounds, or a text with a unit (`Fields.duration`; a
    text's bounds are the loader's)."""
    return {"anyOf": [positive(most, least), {"type": "string", "pattern": DURATION_TEXT}]}


def port() -> Fragment:
    return integer(1, 65535)


def host() -> Fragment:
    """A host name or an IP address (IPv6 without brackets), or a `${VAR}` that is one."""
    return {"type": "string", "pattern": r"^\s*([A-Za-z0-9_.:%-]+|.*\$\{.*)\s*$"}


def url() -> Fragment:
    """An http(s) URL with a host, or a text with a `${VAR}` that makes one."""
    # Without inline flags, which an editor's (ECMAScript) regular expressions lack.
    scheme = r"[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#\x00-\x1f\x7f]+"
    return {"type": "string",
            "pattern": rf"^\s*({scheme}{_URL_CHAR}*|{_URL_CHAR}*\$\{{{_URL_CHAR}*)\s*$"}


def headers() -> Fragment:
    """Request headers: HTTP token names to one-line Latin-1 values without spaces at the
    ends."""
    return {"type": "object",
            "propertyNames": {"pattern": r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"},
            "additionalProperties": {
                "type": "string",
                "pattern": r"^([!-~\x80-\xff]([\t -~\x80-\xff]*[!-~\x80-\xff])?)?$"}}


def described(shape: Fragment, help: tuple[str, str] | None) -> Fragment:
    """`shape` with the description its help text (default, meaning) makes."""
    if help is None:
        return dict(shape)
    default, meaning = help
    shown = "" if default in ("", "none", "required") else f" (default: {default})"
    return {**shape, "description": meaning + shown}


def obj(shapes: dict[str, Fragment], helps: dict[str, tuple[str, str]],
        required: tuple[str, ...] = (), **more: Any) -> Fragment:
    """An object of exactly these keys, each described by its help."""
    return {"type": "object", "additionalProperties": False,
            "properties": {key: described(shape, helps.get(key))
                           for key, shape in shapes.items()},
            **({"required": list(required)} if required else {}), **more}
