"""The metrics tree: values pushed to dotted series (`POST /metrics`, JSON or Graphite's
plaintext lines), read back by query (`GET /metrics/query`) and browsed as a tree
(`GET /metrics/tree`). The query language is monitor.metrics.query's."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from monitor.core.fields import MAX_VALUE, VALUE_RANGE, is_number
from monitor.metrics.paths import MAX_PATH, PATH_REGEX, SeriesPathError, check_path, quoted
from monitor.metrics.query import (
    FUNCTIONS,
    MAX_Q,
    Q_REGEX,
    Query,
    QueryError,
    apply,
    parse_query,
)
from monitor.store.api import Reader, RecordSeries
from monitor.store.figures import Figures
from monitor.web.auth import require
from monitor.web.body import json_body
from monitor.web.context import current
from monitor.web.openapi import error
from monitor.web.params import finite, reading
from monitor.web.problems import Problem

bp = Blueprint("metrics", __name__)

MAX_BODY = 8 * 1024 * 1024  # bytes of one POST: about 200,000 Graphite lines
MAX_VALUES = 100_000  # values in one POST
MAX_ERRORS = 20  # bad values named in one answer
FUTURE = 600.0  # seconds a timestamp may be ahead of the server's clock
EARLIEST = 946_684_800.0  # 2000-01-01: before it, a timestamp is a mistake (not seconds?)
MAX_SERIES = 1000  # result series of one query
MAX_POINTS = 1_000_000  # series x steps read for one query
MAX_CHILDREN = 10_000  # children of one node in a tree answer
# Raw values one query may read: a step that is not a whole number of minutes reads them
# (the rollups start at a minute), at a few microseconds each.
MAX_RAW_VALUES = 1_000_000
# A number as Graphite's lines write it (not Python's float(): no "nan", "inf", "1_0", nor
# digits of other scripts, "١٢٣": ASCII, as the document's pattern reads \d).
_NUMBER_REGEX = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_NUMBER = re.compile(_NUMBER_REGEX, re.ASCII)


@dataclass(frozen=True)
class _Bad:
    """A value that cannot be taken: where it is (a line or a JSON pointer) and why."""

    where: dict[str, Any]
    detail: str


@bp.post("/metrics")
@require("write")
def post_metrics() -> ResponseReturnValue:
    context = current()
    request.max_content_length = MAX_BODY
    now = context.clock()
    mimetype = request.mimetype
    if mimetype == "text/plain":
        points, bad = _gather(_lines(_text(), now))
    elif request.is_json:
        points, bad = _gather(_json_points(json_body(), now))
    else:
        raise Problem(400, "Bad Request", "send JSON ({\"path\": value, ...}) as"
                      " application/json, or Graphite lines (path value [timestamp]) as"
                      " text/plain")
    if bad:
        first = bad[0]
        where = (f"line {first.where['line']}" if "line" in first.where
                 else f"at {first.where['pointer']}")
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise Problem(422, "Unprocessable Content", f"{where}: {first.detail}{more};"
                      " nothing was stored", errors=[{**b.where, "detail": b.detail}
                                                     for b in bad])
    if not points:
        raise Problem(422, "Unprocessable Content", "no values: nothing was stored")
    if not context.store.put_series(RecordSeries(tuple(points))):
        raise Problem(503, "Service Unavailable", "the database cannot take values now (its"
                      " writer is behind, or the disk refuses); nothing was stored: send"
                      " again later", headers={"Retry-After": "5"})
    return jsonify({"accepted": len(points)}), 202


def _text() -> str:
    try:
        return request.get_data(cache=False).decode("utf-8")
    except UnicodeDecodeError:
        raise Problem(400, "Bad Request", "the body is not UTF-8 text") from None


def _gather(values: Iterator[tuple[str, float, float] | _Bad],
            ) -> tuple[list[tuple[str, float, float]], list[_Bad]]:
    points: list[tuple[str, float, float]] = []
    bad: list[_Bad] = []
    for value in values:
        if isinstance(value, _Bad):
            bad.append(value)
            if len(bad) >= MAX_ERRORS:
                break
        else:
            points.append(value)
        if len(points) + len(bad) > MAX_VALUES:
            raise Problem(413, "Content Too Large", f"more than {MAX_VALUES} values in one"
                          " request; nothing was stored: send them in several")
    return points, bad


def _lines(text: str, now: float) -> Iterator[tuple[str, float, float] | _Bad]:
    """Graphite's plaintext protocol: `path value [timestamp]` a line (timestamp -1 or
    none: now); blank lines are skipped."""
    for number, line in enumerate(text.split("\n"), 1):
        fields = line.split()
        if not fields:
            continue
        where = {"line": number}
        if len(fields) not in (2, 3):
            yield _Bad(where, f"{quoted(line.strip(), 60)}: expected `path value"
                              f" [timestamp]`, found {len(fields)} fields")
            continue
        try:
            path = _path(fields[0])
            value = _number(fields[1], "value")
            stamp = now if len(fields) == 2 or fields[2] == "-1" else _time(
                _number(fields[2], "timestamp"), now)
        except ValueError as exc:
            yield _Bad(where, str(exc))
            continue
        yield path, stamp, value


def _number(text: str, what: str) -> float:
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"the {what} {quoted(text, 40)} is not a number")
    number = float(text)
    if what == "value":
        return _bounded(number, quoted(text, 40))
    if not math.isfinite(number):
        raise ValueError(f"the {what} {quoted(text, 40)} is out of range")
    return number


def _bounded(value: float, shown: str | None = None) -> float:
    """A value within the store's bound (infinity beyond it): the sums of many stay
    finite."""
    if not abs(value) <= MAX_VALUE:
        shown = shown or repr(value)
        raise ValueError(f"the value {shown} is out of range (values are taken"
                         f" {VALUE_RANGE})")
    return value


def _path(text: str) -> str:
    try:
        return check_path(text)
    except SeriesPathError as exc:
        raise ValueError(f"series path {exc}") from None


def _time(stamp: float, now: float) -> float:
    if stamp < EARLIEST:
        raise ValueError(f"the timestamp {stamp:g} is before 2000-01-01 (seconds since"
                         " 1970 are expected)")
    if stamp > now + FUTURE:
        raise ValueError(f"the timestamp {stamp:g} is more than {FUTURE:g} s ahead of the"
                         " server's clock (seconds, not milliseconds, are expected)")
    return stamp


def _json_points(body: Any, now: float) -> Iterator[tuple[str, float, float] | _Bad]:
    """`{"path": value, ...}` (now) or `{"path": [[timestamp, value], ...], ...}`."""
    if not isinstance(body, dict):
        yield _Bad({"pointer": ""}, "the body must be a JSON object of series paths:"
                                    " {\"path\": value} or {\"path\": [[timestamp, value]]}")
        return
    for key, given in body.items():
        pointer = "/" + key.replace("~", "~0").replace("/", "~1")
        try:
            path = _path(key)
        except ValueError as exc:
            yield _Bad({"pointer": pointer}, str(exc))
            continue
        if is_number(given):
            yield _single(path, float(given), pointer, now)
        elif isinstance(given, list):
            for index, pair in enumerate(given):
                yield _pair(path, pair, f"{pointer}/{index}", now)
        else:
            yield _Bad({"pointer": pointer}, "must be a number, or a list of [timestamp,"
                                             " value] pairs")


def _single(path: str, value: float, pointer: str, now: float,
            ) -> tuple[str, float, float] | _Bad:
    try:
        return path, now, _bounded(value)
    except ValueError as exc:
        return _Bad({"pointer": pointer}, str(exc))


def _pair(path: str, pair: Any, pointer: str, now: float) -> tuple[str, float, float] | _Bad:
    if not (isinstance(pair, list) and len(pair) == 2 and all(map(is_number, pair))):
        return _Bad({"pointer": pointer}, "must be [timestamp, value], two numbers")
    try:
        return path, _time(float(pair[0]), now), _bounded(float(pair[1]))
    except ValueError as exc:
        return _Bad({"pointer": pointer}, str(exc))


# -- reads -----------------------------------------------------------------------------------

@bp.get("/metrics/query")
@require("read")
def get_query() -> ResponseReturnValue:
    args = request.args
    try:
        query = parse_query(args.get("q"), args.get("range"), args.get("step"))
    except QueryError as exc:
        extra: dict[str, Any] = {} if exc.position is None else {"position": exc.position}
        raise Problem(400, "Bad Request", str(exc), parameter=exc.parameter,
                      **extra) from None
    context = current()
    now = context.clock()
    with reading(context) as reader:
        return jsonify(_answer(reader, query, now))


def _answer(reader: Reader, query: Query, now: float) -> dict[str, Any]:
    first, last = query.steps(now)
    matches = []
    for number, term in enumerate(query.terms, 1):
        found = reader.series_matching(term.pattern, MAX_SERIES + 1)
        if len(found) > MAX_SERIES:
            raise Problem(400, "Bad Request", f"q: term {number} ({quoted(term.text, 60)})"
                          f" matches more than {MAX_SERIES} series: narrow its pattern",
                          parameter="q", position=term.position)
        matches.append(found)
    ids = sorted({info.id for found in matches for info in found})
    if len(ids) * (last - first) > MAX_POINTS:
        raise Problem(400, "Bad Request", f"{len(ids)} series of {last - first} steps is"
                      f" more than {MAX_POINTS} points: ask for a larger step, a shorter"
                      " range or fewer series", parameter="step")
    if query.step % 60:
        raw = reader.series_raw_count(ids, first * query.step, last * query.step)
        if raw > MAX_RAW_VALUES:
            raise Problem(400, "Bad Request", f"the query would read {raw} raw values (a step"
                          " that is not a whole number of minutes reads them), more than"
                          f" {MAX_RAW_VALUES}: ask for a step of 1m or more, a shorter range"
                          " or fewer series", parameter="step")
    steps = reader.series_steps(ids, first, last, query.step, now)
    series = []
    for term, found in zip(query.terms, matches, strict=True):
        if term.merged:
            merged: dict[int, Figures] = {}
            for info in found:
                for index, figures in steps[info.id].items():
                    merged.setdefault(index, Figures()).merge(figures)
            series.append(_result(term.text, term.pattern.text, term.function, True, merged,
                                  query.step))
        else:
            series.extend(_result(term.text, info.path, term.function, False, steps[info.id],
                                  query.step) for info in found)
    return {"from": first * query.step, "until": last * query.step, "step": query.step,
            "series": series}


def _result(term: str, path: str, function: str, merged: bool, steps: dict[int, Figures],
            step: int) -> dict[str, Any]:
    points = []
    for index in sorted(steps):
        # A sum beyond the float's end is no number JSON can carry: as a step without values.
        value = finite(apply(function, steps[index]))
        if value is not None:
            points.append([index * step, value])
    return {"term": term, "path": path, "function": function, "merged": merged,
            "points": points}


@bp.get("/metrics/tree")
@require("read")
def get_tree() -> ResponseReturnValue:
    prefix = request.args.get("prefix", "")
    if prefix:
        try:
            check_path(prefix)
        except SeriesPathError as exc:
            raise Problem(400, "Bad Request", f"prefix: {exc}", parameter="prefix",
                          position=exc.position) from None
    context = current()
    with reading(context) as reader:
        children = reader.series_tree(prefix, MAX_CHILDREN + 1)
        if prefix and not children and reader.series_info(prefix) is None:
            raise Problem(404, "Not Found", f"no series is {prefix} or below it")
    return jsonify({"prefix": prefix, "truncated": len(children) > MAX_CHILDREN,
                    "children": [{"name": node.name, "path": node.path,
                                  "series": node.series, "leaf": node.leaf}
                                 for node in children[:MAX_CHILDREN]]})


# -- the OpenAPI document ------------------------------------------------------------------

# [epoch seconds, value] pairs.
_POINTS = {"type": "array", "items": {"type": "array", "items": {"type": "number"},
                                      "minItems": 2, "maxItems": 2}}
_LINE = rf"{PATH_REGEX}[ \t]+{_NUMBER_REGEX}(?:[ \t]+{_NUMBER_REGEX})?"
_LINES = rf"^\s*{_LINE}(?:[ \t]*\r?\n\s*{_LINE})*\s*$"  # blank lines between are skipped
# Durations greater than 0 (their upper bounds, and the steps a range makes, are not in it).
_RANGE = r"^\s*(?:\d*[1-9]\d*(?:\.\d+)?|\d+\.\d*[1-9]\d*|\.\d*[1-9]\d*)\s*[smhd]?\s*$"
_STEP = r"^\s*\d*[1-9]\d*\s*[smhd]?\s*$"  # whole seconds
_ERRORS = {"400": error("A parameter that cannot be read (`parameter`, and in q the 0-based"
                        " `position` of the problem)"),
           "503": error("The database cannot be read")}

OPENAPI: dict[str, Any] = {
    "paths": {
        "/metrics": {"post": {
            "summary": "Push values to metric series",
            "description": (
                "JSON: `{\"web.frontend.latency\": 12.5}` (a value now) or"
                " `{\"path\": [[timestamp, value], ...]}`; or Graphite's plaintext lines"
                " `path value [timestamp]` as text/plain. Paths are dotted segments of"
                " letters, digits, `_` and `-`, at most 255 characters; timestamps are"
                f" epoch seconds, at most {FUTURE:g} s ahead; values {VALUE_RANGE}. At most"
                f" {MAX_VALUES} values and {MAX_BODY // 1024 // 1024} MiB a request; one bad"
                " value and nothing is stored."),
            "operationId": "postMetrics",
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": {
                    "type": "object", "minProperties": 1,
                    "propertyNames": {"pattern": f"^{PATH_REGEX}$", "maxLength": MAX_PATH},
                    "additionalProperties": {"oneOf": [
                        {"type": "number", "minimum": -MAX_VALUE, "maximum": MAX_VALUE},
                        {**_POINTS, "minItems": 1}]}}},
                "text/plain": {"schema": {"type": "string", "pattern": _LINES}}}},
            "responses": {
                "202": {"description": "Queued to be stored", "content": {
                    "application/json": {"schema": {
                        "type": "object", "required": ["accepted"],
                        "properties": {"accepted": {"type": "integer", "minimum": 1}}}}}},
                "400": error("Not JSON or plaintext, or JSON that does not parse"),
                "413": error("More than the request may carry"),
                "422": error("A bad path, value or timestamp: `errors` names each (`line`"
                             " or `pointer`)"),
                "503": error("The database cannot take values now; send again later"),
            }}},
        "/metrics/query": {"get": {
            "summary": "Query metric series",
            "description": (
                "`q`: terms `pattern|function` separated by commas (`web.*.latency|avg,"
                "cpu.*|max`); `*` matches within one segment, a `**` segment one or more"
                " segments; functions " + ", ".join(FUNCTIONS) + " (avg if none); `|all`"
                " after the function makes one series of every match. One result series per"
                " matching path, one point per step with values."),
            "operationId": "queryMetrics",
            "parameters": [
                {"name": "q", "in": "query", "required": True, "schema": {
                    "type": "string", "pattern": Q_REGEX, "maxLength": MAX_Q}},
                {"name": "range", "in": "query", "schema": {"type": "string",
                                                            "pattern": _RANGE},
                 "description": "how far back from now: 90s, 5m, 1h, 7d (default 1h)"},
                {"name": "step", "in": "query", "schema": {"type": "string",
                                                           "pattern": _STEP},
                 "description": "seconds per point (10s, 1m...); chosen from the range"
                                " when not given"}],
            "responses": {
                "200": {"description": "The result series", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/MetricsQuery"}}}},
                **_ERRORS}}},
        "/metrics/tree": {"get": {
            "summary": "The children of a node of the metrics tree",
            "operationId": "metricsTree",
            "parameters": [{"name": "prefix", "in": "query", "schema": {
                "type": "string", "pattern": f"^(?:{PATH_REGEX})?$", "maxLength": MAX_PATH},
                            "description": "a series path; none for the top"}],
            "responses": {
                "200": {"description": "The children, by name", "content": {
                    "application/json": {"schema": {
                        "$ref": "#/components/schemas/MetricsTree"}}}},
                "404": error("No series is the prefix or below it"),
                **_ERRORS}}},
    },
    "components": {"schemas": {
        "MetricsQuery": {
            "type": "object", "required": ["from", "until", "step", "series"],
            "properties": {
                "from": {"type": "integer", "description": "the first step's start"},
                "until": {"type": "integer", "description": "the last step's end"},
                "step": {"type": "integer", "minimum": 1},
                "series": {"type": "array", "items": {
                    "type": "object",
                    "required": ["term", "path", "function", "merged", "points"],
                    "properties": {
                        "term": {"type": "string"},
                        "path": {"type": "string",
                                 "description": "the series' path (merged: the pattern)"},
                        "function": {"enum": list(FUNCTIONS)},
                        "merged": {"type": "boolean"},
                        "points": {**_POINTS,
                                   "description": "[step start, value] of each step with"
                                                  " values, in time order"}}}}}},
        "MetricsTree": {
            "type": "object", "required": ["prefix", "truncated", "children"],
            "properties": {
                "prefix": {"type": "string"},
                "truncated": {"type": "boolean"},
                "children": {"type": "array", "items": {
                    "type": "object", "required": ["name", "path", "series", "leaf"],
                    "properties": {
                        "name": {"type": "string"},
                        "path": {"type": "string"},
                        "series": {"type": "integer", "minimum": 1,
                                   "description": "series at or below it"},
                        "leaf": {"type": "boolean",
                                 "description": "a series has this path"}}}}}},
    }},
}
