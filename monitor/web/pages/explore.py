"""The metrics explorer (`/explore?q=...&range=...`): the tree of pushed series, a query of
them (the language of GET /api/v1/metrics/query) and a live chart of what it matches, the
original system's realtime page. The query is kept in the URL, so a chart can be shared.

The server fills in the query, the range and the top of the tree; the script
(static/js/explore.js) draws the chart from the API, opens the tree's branches, and asks for
the newest steps every few seconds: pushed values are not in the event stream."""

from __future__ import annotations

from flask import Blueprint, request
from flask.typing import ResponseReturnValue

from monitor.metrics.query import FUNCTIONS, MAX_Q
from monitor.web.api.metrics import MAX_CHILDREN
from monitor.web.context import current
from monitor.web.pages import page, render
from monitor.web.params import reading

bp = Blueprint("explore", __name__)

RANGES = {"15m": "15 min", "1h": "1 h", "6h": "6 h", "24h": "24 h", "7d": "7 d", "30d": "30 d"}
DEFAULT_RANGE = "1h"
POLL_SECONDS = 5  # how often the chart asks for its newest steps


@bp.get("/explore")
@page("read")
def explore() -> ResponseReturnValue:
    """The metrics explorer: the tree of pushed series, a query (`?q=`, `?range=`) and its
    live chart."""
    query = request.args.get("q", "").strip()[:MAX_Q]
    chosen = request.args.get("range", DEFAULT_RANGE)
    if chosen not in RANGES:
        chosen = DEFAULT_RANGE
    with reading(current()) as reader:
        top = reader.series_tree("", MAX_CHILDREN + 1)
    nodes = [{"name": n.name, "path": n.path, "series": n.series, "leaf": n.leaf}
             for n in top[:MAX_CHILDREN]]
    return render("explore.html", nav="metrics", q=query, range=chosen, ranges=RANGES,
                  functions=FUNCTIONS,
                  data={"q": query, "range": chosen, "tree": nodes,
                        "truncated": len(top) > MAX_CHILDREN, "poll": POLL_SECONDS})
