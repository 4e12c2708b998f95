"""A JSON document's text edited in place: where the root object's members and an array's
items are in the text, so that an edit rewrites one item and keeps every other byte as
the user wrote it (layout, key order, `${VAR}` references, the other entries).

The text must be valid JSON (the caller has parsed it): nothing here reports errors."""

from __future__ import annotations

import json
import re
from json.decoder import scanstring  # type: ignore[attr-defined]  # public, not in the stubs
from typing import Any

Span = tuple[int, int]  # [start, end) of a value in the text

_SPACE = re.compile(r"[ \t\n\r]*")
_decoder = json.JSONDecoder()


def _skip(text: str, at: int) -> int:
    match = _SPACE.match(text, at)
    assert match is not None  # `*` matches the empty string
    return match.end()


def member(text: str, key: str) -> Span | None:
    """The span of the root object's member `key` (its last, as json.loads keeps)."""
    found = None
    at = _skip(text, 0)
    assert text[at] == "{"
    at = _skip(text, at + 1)
    while text[at] != "}":
        name, at = scanstring(text, at + 1)
        at = _skip(text, _skip(text, at) + 1)  # past the colon
        _, end = _decoder.raw_decode(text, at)
        if name == key:
            found = (at, end)
        at = _skip(text, end)
        if text[at] == ",":
            at = _skip(text, at + 1)
    return found


def items(text: str, array: Span) -> list[Span]:
    """The spans of the items of the array at `array`."""
    spans = []
    at = _skip(text, array[0] + 1)
    while text[at] != "]":
        _, end = _decoder.raw_decode(text, at)
        spans.append((at, end))
        at = _skip(text, end)
        if text[at] == ",":
            at = _skip(text, at + 1)
    return spans


def _indent(text: str, at: int) -> str:
    """The spaces before `at` on its line, when only spaces are before it there."""
    line = text[text.rfind("\n", 0, at) + 1:at]
    return line if not line.strip() else ""


def dumps_like(value: Any, text: str, like: Span | None) -> str:
    """`value` as JSON laid out as the item at `like` is: on one line when it is, else
    indented by two, its lines lined up with it."""
    if like is None or "\n" not in text[like[0]:like[1]]:
        return json.dumps(value, ensure_ascii=False)
    newline = "\r\n" if "\r\n" in text else "\n"
    return json.dumps(value, ensure_ascii=False, indent=2).replace(
        "\n", newline + _indent(text, like[0]))


def replace(text: str, span: Span, value: Any) -> str:
    return text[:span[0]] + dumps_like(value, text, span) + text[span[1]:]


def delete(text: str, spans: list[Span], index: int) -> str:
    """The text without item `index` and the comma and spaces that set it apart."""
    if index + 1 < len(spans):
        return text[:spans[index][0]] + text[spans[index + 1][0]:]
    if index > 0:
        return text[:spans[index - 1][1]] + text[spans[index][1]:]
    return text[:spans[index][0]] + text[spans[index][1]:]


def append(text: str, array: Span, spans: list[Span], value: Any) -> str:
    """The text with `value` after the array's last item, set apart as the items are."""
    if not spans:
        return text[:array[0] + 1] + json.dumps(value, ensure_ascii=False) + text[array[1] - 1:]
    last = spans[-1]
    # Set apart as the last two are (",\n    "), or as the first is from the bracket.
    between = (text[spans[-2][1]:last[0]] if len(spans) > 1
               else "," + text[array[0] + 1:last[0]])
    return text[:last[1]] + between + dumps_like(value, text, last) + text[last[1]:]
