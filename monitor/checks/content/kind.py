"""The `content` kind: the page of a URL fetched as the http kind fetches it, its tags
counted by name and its size measured, each against the last `history` checks' values;
a warning when one moved more than `maxDeviation` standard deviations, down past
`failDeviation` (the HtmlStats plugin of old).

The history lives in this process's memory, per monitor: a restart, or a change of what
the monitor fetches or counts, starts learning again (MIN_HISTORY checks, reported up)."""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
from collections.abc import Callable

from monitor.checks.content.analysis import (
    MIN_HISTORY,
    History,
    Page,
    Unreadable,
    Verdict,
    measure,
    size_text,
    tag_text,
)
from monitor.checks.content.spec import (
    HELP,
    KEYS,
    SCHEMA,
    TOP_KEYS,
    ContentSpec,
    defaults,
    parse,
    plugin,
)
from monitor.checks.http.curl import fetch
from monitor.checks.http.kind import REASONS as HTTP_REASONS
from monitor.checks.trace import debugger
from monitor.checks.trace import detail as trace_detail
from monitor.core.deadline import Deadline
from monitor.core.kind import Kind
from monitor.core.model import CONNECTION_REASONS, CheckResult, Monitor

REASONS = (*HTTP_REASONS, "changed")
# A history not used for this long is a monitor the config no longer has (or one whose
# fetch or count settings changed): forgotten, so reloads do not grow memory for ever.
FORGET_INTERVALS, FORGET_SECONDS = 3.0, 600.0
SWEEP_EVERY = 60.0
TRACE_TAGS = 12  # tag counts shown by `check`
TRACE_CHANGES = 10


class Histories:
    """Every content monitor's History, by monitor id and what makes its page (the URL and
    the request headers) and its counts (the ignored tags): a change of those on a reload
    starts a new history."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._by_key: dict[tuple, History] = {}
        self._swept = clock()

    def __len__(self) -> int:
        return len(self._by_key)

    def get(self, monitor: Monitor) -> History:
        spec: ContentSpec = monitor.spec
        # Not the whole http spec: its `expect` may hold unhashable JSON values, and
        # conditions, limits and TLS settings do not change the page.
        key = (monitor.id, spec.http.url, spec.http.headers, spec.ignore)
        now = self._clock()
        with self._lock:
            history = self._by_key.get(key)
            if history is None:
                history = self._by_key[key] = History(spec.history)
            history.used, history.interval = now, monitor.interval
            if now - self._swept >= SWEEP_EVERY:
                self._swept = now
                self._by_key = {k: h for k, h in self._by_key.items()
                                if now - h.used <= FORGET_INTERVALS * h.interval + FORGET_SECONDS}
        return history

    def clear(self) -> None:
        with self._lock:
            self._by_key.clear()


HISTORIES = Histories()


def run(monitor: Monitor, deadline: Deadline) -> CheckResult:
    """One check: the page fetched, measured, judged against the history, and added to it."""
    return _check(monitor, deadline)


def _check(monitor: Monitor, deadline: Deadline, trace: list[str] | None = None,
           record: bool = True) -> CheckResult:
    spec: ContentSpec = monitor.spec
    history = HISTORIES.get(monitor)  # also when the fetch fails: it is still in use
    result, body = fetch(dataclasses.replace(monitor, spec=spec.http), deadline, trace)
    if not result.available or deadline.aborted:
        # The http kind's reason and detail; the phase times are the http monitor's.
        return dataclasses.replace(result, metrics={})
    parsing = time.perf_counter()
    try:
        page = measure(body, spec.ignore)
    except Unreadable as exc:
        return dataclasses.replace(result, available=False, warning=False,
                                   reason="invalid_response",
                                   detail=trace_detail(f"the HTML parser failed: {exc}"),
                                   metrics={})
    parse_ms = (time.perf_counter() - parsing) * 1000.0
    with history.lock:
        history.resize(spec.history)
        verdict = history.judge(page, MIN_HISTORY)
        if record:
            # A changed page enters the history too: one that changed for good stops
            # warning once the change is about a tenth of it (see docs/kinds/content.md).
            history.add(page)
    state, detail = verdict.outcome(spec.max_deviation, spec.fail_deviation)
    metrics = {"size": float(page.size), "tags": float(page.tags)}
    if verdict.judged:
        metrics["changed"] = verdict.largest
    if trace is not None:
        _trace(trace, spec, page, parse_ms, verdict, history.length)
    if state == "up" and result.warning:
        # The fetch's own warning (a certificate close to expiry) when the page is fine.
        return dataclasses.replace(result, metrics=metrics)
    return dataclasses.replace(
        result,
        available=state != "down",
        warning=state == "warning",
        reason="changed" if state != "up" else None,
        # Tag names come from the page: made printable and short as any detail.
        detail=trace_detail(detail, monitor.secrets),
        metrics=metrics,
    )


def _trace(trace: list[str], spec: ContentSpec, page: Page, parse_ms: float,
           verdict: Verdict, length: int) -> None:
    trace.append(f"page: {size_text(page.size)} ({page.size} bytes), {page.tags} tags of"
                 f" {len(page.counts)} names, parsed in {parse_ms:.1f} ms")
    ranked = sorted(page.counts.items(), key=lambda item: (-item[1], item[0]))
    shown = ", ".join(f"{tag_text(name)} {count}" for name, count in ranked[:TRACE_TAGS])
    more = f", +{len(ranked) - TRACE_TAGS} more names" if len(ranked) > TRACE_TAGS else ""
    trace.append(f"tags: {shown}{more}")
    if spec.ignore:
        trace.append(f"not counted: {', '.join(sorted(spec.ignore))}")
    trace.append(f"history: {verdict.kept} earlier checks kept in this process (up to"
                 f" {length}); judged once {verdict.needed} are kept")
    if not verdict.judged:
        return
    fail = (f", down above {spec.fail_deviation:g}" if spec.fail_deviation is not None
            else ", never down")
    moved = [change for change in verdict.changes if change.sigmas > 0]
    if not moved:
        trace.append("changes: none, every count and the size as in the history")
        return
    trace.append(f"changes, in standard deviations from the history (warning above"
                 f" {spec.max_deviation:g}{fail}):")
    for change in moved[:TRACE_CHANGES]:
        mark = " <- over maxDeviation" if change.sigmas > spec.max_deviation else ""
        trace.append(f"  {change.text()}: {change.sigmas:.1f}{mark}")
    if len(moved) > TRACE_CHANGES:
        trace.append(f"  +{len(moved) - TRACE_CHANGES} more, smaller")


def debug(monitor: Monitor) -> tuple[CheckResult, list[str]]:
    """One check with a trace: the http kind's (hops, address, status, headers,
    certificate), then the page's size and tag counts, the history, and each count that
    moved with its deviation; then the verdict. Judged against the history this process
    keeps, which the check does not add to (`check` records nothing)."""
    return debugger(functools.partial(_check, record=False))(monitor)


KIND = Kind(
    name="content",
    keys=KEYS,
    parse=parse,
    reasons=REASONS,
    run=run,
    network=True,
    # As the http kind: an answer, even a 500 or a changed page, proves the network works.
    network_reasons=CONNECTION_REASONS,
    top_keys=TOP_KEYS,
    defaults=defaults,
    debug=debug,
    plugin=plugin,
    help=HELP,
    schema=SCHEMA,
)

__all__ = ["HISTORIES", "KIND", "REASONS", "Histories", "debug", "run"]
