"""Reading a request's JSON body, with the errors a client can act on."""

from __future__ import annotations

import json
from typing import Any

from flask import request

from monitor.web.problems import Problem


def json_body() -> Any:
    """The request's body as JSON. Raises a 400 Problem for a body that is not JSON (or not
    sent as application/json), naming the line and column, and lets werkzeug's 413 through
    for one larger than the route takes."""
    if not request.is_json:
        raise Problem(400, "Bad Request", "the body must be JSON, sent with"
                      " \"Content-Type: application/json\"")
    raw = request.get_data(cache=True)
    try:
        return json.loads(raw, object_pairs_hook=_unique)
    except UnicodeDecodeError:
        raise Problem(400, "Bad Request", "the body is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        what = exc.msg.removesuffix(" at").removesuffix(" starting")
        raise Problem(400, "Bad Request", f"invalid JSON at line {exc.lineno}, column"
                                          f" {exc.colno}: {what}") from None
    except (RecursionError, ValueError) as exc:
        raise Problem(400, "Bad Request", f"invalid JSON: {exc}") from None
    except _Duplicate as exc:
        raise Problem(400, "Bad Request", f"invalid JSON: the key {exc} appears more"
                                          " than once") from None


class _Duplicate(Exception):
    pass


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _Duplicate(json.dumps(key))
        seen[key] = value
    return seen
