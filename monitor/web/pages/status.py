"""Status pages, for customers: `/status/{slug}` shows the monitors a page of the config's
`statusPages` names (by group: name, state, 90 daily uptime bars, 90-day uptime), an
overall line, the incidents now and the maintenance now and to come. Public, whatever
`apiTokens` say; `/status` lists the pages for those logged in.

A customer sees the monitors' names only: never an id, a target, a reason or a detail
(they may hold hosts, paths and tokens). The page refreshes itself from
`/status/{slug}.json`, the same document: every open page asks for it every 30 s with the
ETag it has, and is answered 304 while nothing changed. The document of a page is made at
most every CACHE_SECONDS for all its visitors, so a hundred open pages cost the server a
few small answers a second (bench/web_status.py)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, request
from flask.typing import ResponseReturnValue
from werkzeug.http import parse_etags

from monitor.config import Config
from monitor.config.status import StatusPage
from monitor.core.model import Monitor
from monitor.maintenance import Maintenance, Period
from monitor.store.api import iso_utc, parse_iso
from monitor.web import problems
from monitor.web.api.monitors import located, state_of
from monitor.web.context import WebContext, current
from monitor.web.pages import page, render
from monitor.web.params import int_arg, reading
from monitor.web.problems import Problem

bp = Blueprint("status", __name__)

DAYS = 90
REFRESH = 30  # seconds between two refreshes of an open page
CACHE_SECONDS = 5.0  # a page's document is made at most this often, for all its visitors
HORIZON = 7 * 86400  # maintenance scheduled this far ahead is shown
DAY = 86400
# What a customer reads of a monitor's state (state_of's words are the operator's).
SAID = {"up": "Operational", "warning": "Degraded", "down": "Outage",
        "maintenance": "Maintenance", "paused": "Not monitored", "unknown": "No data"}
OVERALL = {"operational": "All systems operational", "degraded": "Degraded performance",
           "partial": "Partial outage", "major": "Major outage",
           "maintenance": "Under maintenance", "unknown": "No data yet"}
_CACHE = "monitor.status-pages"


@bp.get("/status")
@page("read")
def index() -> ResponseReturnValue:
    """The status pages of the config, each with its link and its overall state now."""
    context = current()
    config = context.config
    listed = [(found, _cached(context, config, found).doc["overall"])
              for found in config.status_pages]
    return render("status_index.html", nav="status", listed=listed)


@bp.get("/status/<slug>")
@page("public")
def show(slug: str) -> ResponseReturnValue:
    """A status page, public: its monitors' names, states and 90 days of uptime, the
    incidents and maintenance now; it refreshes itself every `refresh` seconds (30)."""
    context = current()
    config = context.config  # once: a reload meanwhile does not mix two configs
    found = _page(config, slug)
    if found is None:
        raise Problem(404, "Not Found", f"there is no status page {slug!r} here")
    refresh = int_arg("refresh", REFRESH, 1, 3600)
    made = _cached(context, config, found)
    return render("status.html", page=found, doc=made.doc, etag=made.etag,
                  updated=iso_utc(made.at), refresh=refresh, bars=bars, when=when)


@bp.get("/status/<slug>.json")
@page("public")
def data(slug: str) -> ResponseReturnValue:
    """The page's document; 304 to a visitor who has it (If-None-Match)."""
    context = current()
    config = context.config
    found = _page(config, slug)
    if found is None:  # a problem document, as the API answers: this is a script's read
        return problems.response(Problem(404, "Not Found",
                                         f"there is no status page {slug!r} here"))
    made = _cached(context, config, found)
    if _matches(request.headers.get("If-None-Match"), made.etag):
        answer = Response(status=304)
    else:
        answer = Response(made.body, mimetype="application/json")
    answer.set_etag(made.etag)
    answer.headers["Cache-Control"] = "no-cache"
    return answer


def _matches(header: str | None, etag: str) -> bool:
    """Whether If-None-Match names the document: as sent compressed too (flask-compress
    answers `"ETAG:br"`), so that an unchanged document is never compressed again. Weak
    tags match as strong ones do (RFC 9110: If-None-Match compares weakly; a proxy that
    compresses sends `W/"ETAG"`), and so does `*`."""
    tags = parse_etags(header)
    return tags.star_tag or any(tag.partition(":")[0] == etag
                                for tag in tags.as_set(include_weak=True))


def _page(config: Config, slug: str) -> StatusPage | None:
    return next((p for p in config.status_pages if p.slug == slug), None)


# -- the document, made at most every CACHE_SECONDS ----------------------------------------

@dataclass(frozen=True)
class Made:
    config: Config  # the config it was made of: a reload makes it anew
    at: float
    doc: dict[str, Any]
    etag: str  # of what it shows, not of when it was made: unchanged, a refresh is a 304
    body: bytes  # the document with its time, as /status/{slug}.json sends it


class _Cache:
    """The app's documents, by slug, and the lock under which one is made."""

    def __init__(self) -> None:
        self.made: dict[str, Made] = {}
        self.lock = threading.Lock()

    def fresh(self, config: Config, slug: str, now: float) -> Made | None:
        made = self.made.get(slug)
        if made is not None and made.config is config and 0 <= now - made.at < CACHE_SECONDS:
            return made
        return None


def _cached(context: WebContext, config: Config, found: StatusPage) -> Made:
    cache: _Cache | None = current_app.extensions.get(_CACHE)
    if cache is None:
        cache = current_app.extensions.setdefault(_CACHE, _Cache())
    now = context.clock()
    made = cache.fresh(config, found.slug, now)
    if made is not None:
        return made
    with cache.lock:  # one visitor makes it, the others wait for it instead of making it too
        made = cache.fresh(config, found.slug, now)
        if made is None:
            doc = document(context, config, found, now)
            text = json.dumps(doc, separators=(",", ":"))
            etag = hashlib.sha256(text.encode()).hexdigest()[:20]
            body = json.dumps({**doc, "updated": iso_utc(now)}, separators=(",", ":"))
            made = cache.made[found.slug] = Made(config, now, doc, etag, body.encode())
    return made


def document(context: WebContext, config: Config, found: StatusPage,
             now: float) -> dict[str, Any]:
    """What the page shows at `now`, names only: the overall state, each group's monitors
    (state, uptime, days), the incidents and the maintenance."""
    monitors = {m.id: m for m in config.monitors}
    ids = [i for i in found.monitor_ids if i in monitors]
    maintenance = Maintenance([monitors[i] for i in ids], clock=lambda: now)
    with reading(context) as reader:
        summaries = {s.id: s for s in reader.monitor_summaries(ids)}
        days = reader.uptime_by_day(ids, DAYS, now)
        alerts = reader.open_alerts()
        maintenance.read(reader)
        # A monitor checked from several locations: the rules' verdict on them.
        verdicts = located(context, reader, [monitors[i] for i in ids])
    first = int(now // DAY - DAYS + 1) * DAY
    states = {i: state_of(monitors[i], summaries.get(i), verdicts.get(i), i in alerts)
              for i in ids}
    groups = []
    for group in found.groups:
        items = []
        for monitor_id in group.monitors:
            counted = days.get(monitor_id)
            checks = counted.checks if counted is not None else [0] * DAYS
            up = counted.up if counted is not None else [0] * DAYS
            total, good = sum(checks), sum(up)
            state = states[monitor_id]
            # Shares as shown (to a hundredth of a percent), not counts: while nothing
            # fails, a check more changes nothing a refresh must fetch (a 304).
            items.append({"name": monitors[monitor_id].name, "state": state,
                          "said": SAID[state], "uptime": share(good, total),
                          "uptimeText": share_text(share(good, total)),
                          "daily": [share(u, c) for u, c in zip(up, checks, strict=True)]})
        groups.append({"name": group.name, "monitors": items})
    overall = _overall(states.values())
    incidents = []
    for monitor_id in ids:
        summary = summaries.get(monitor_id)
        # Down since its latest check failed, or (several locations) since the rules' alert.
        since = (iso_utc(parse_iso(alerts[monitor_id]))
                 if monitor_id in verdicts and monitor_id in alerts
                 else None if summary is None or summary.down_since is None
                 else iso_utc(summary.down_since))
        if since is None and states[monitor_id] == "down" and monitor_id in verdicts:
            since = iso_utc(now)  # down from a quorum, its alert held (flapping): listed
        if states[monitor_id] == "down" and since is not None:
            incidents.append({"name": monitors[monitor_id].name, "state": "down",
                              "said": "Outage", "since": since})
        elif monitor_id in alerts and states[monitor_id] in ("up", "warning"):
            incidents.append({"name": monitors[monitor_id].name, "state": "recovering",
                              "said": "Recovered, monitoring",
                              "since": iso_utc(parse_iso(alerts[monitor_id]))})
    return {"slug": found.slug, "title": found.title, "description": found.description,
            "layout": _layout(found, monitors),
            "overall": {"state": overall, "said": OVERALL[overall]},
            "days": DAYS, "from": iso_utc(first), "groups": groups,
            "incidents": sorted(incidents, key=lambda i: i["since"]),
            "maintenance": _maintenance(maintenance, [monitors[i] for i in ids], now)}


def _overall(states: Iterable[str]) -> str:
    """Major: every monitor with news is down (maintenance aside); partial: some are."""
    told = [s for s in states if s not in ("paused", "unknown")]
    down = told.count("down")
    if down:
        return "major" if down == len([s for s in told if s != "maintenance"]) else "partial"
    if "maintenance" in told:
        return "maintenance"
    if "warning" in told:
        return "degraded"
    return "operational" if told else "unknown"


def _layout(found: StatusPage, monitors: dict[str, Monitor]) -> str:
    """What the page's frame is made of: an open page whose frame changed reloads."""
    frame = [found.title, found.description,
             [[g.name, [monitors[i].name for i in g.monitors if i in monitors]]
              for g in found.groups]]
    return hashlib.sha256(json.dumps(frame).encode()).hexdigest()[:12]


def _maintenance(maintenance: Maintenance, monitors: list[Monitor],
                 now: float) -> list[dict[str, Any]]:
    """The maintenance now and within HORIZON, each stretch once with the names it covers:
    set by hand (`maintenance on`, the API) or an occurrence of a config window."""
    stretches: dict[tuple[float, float | None], list[str]] = {}
    for monitor in monitors:
        periods: list[Period] = []
        current_one = maintenance.at(monitor.id, now)
        if current_one is not None:
            periods.append(current_one)
        by_hand = maintenance.by_hand(monitor.id, now)
        if by_hand is not None and by_hand.since > now:
            periods.append(by_hand)
        for window in monitor.rules.maintenance:
            coming = window.next_window(now)
            if coming is not None and coming[0] - now <= HORIZON:
                periods.append(Period(coming[0], coming[1], False))
        for period in periods:
            names = stretches.setdefault((period.since, period.until), [])
            if monitor.name not in names:
                names.append(monitor.name)
    return [{"names": names, "since": iso_utc(since),
             "until": None if until is None else iso_utc(until), "now": since <= now}
            for (since, until), names in sorted(stretches.items(), key=lambda s: s[0][0])]


def share(up: int, checks: int) -> float | None:
    """The share of checks up, rounded down to a hundredth of a percent: never 100% while
    a check failed (99.996% is 99.99%); None without checks."""
    return (up * 10_000 // checks) / 10_000 if checks else None


def share_text(ratio: float | None) -> str:
    """A share as a customer reads it: 99.95%."""
    return "No data" if ratio is None else f"{ratio * 100:.2f}%"


def when(iso: str) -> str:
    """An instant as the page shows it before its script says it in the visitor's zone."""
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(parse_iso(iso)))


def bars(first: str, daily: list[float | None]) -> list[tuple[str, str]]:
    """Each day's bar, oldest first: its class (by uptime, as lib.js's uptimeClass) and
    its title (the UTC date and the day's uptime)."""
    start = parse_iso(first)
    out = []
    for index, ratio in enumerate(daily):
        kind = ("" if ratio is None else "u-full" if ratio >= 0.9995 else "u-high"
                if ratio >= 0.99 else "u-mid" if ratio >= 0.95 else "u-low")
        day = time.strftime("%Y-%m-%d", time.gmtime(start + index * DAY))
        out.append((kind, f"{day}: {share_text(ratio)}"))
    return out
