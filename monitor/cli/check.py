"""`check [NAME|URL...]`: check monitors once, now, all at once, and print how each check
went, as the blackbox exporter's `debug=true` does: the kind's trace when it has one, and
always the verdict. Nothing is recorded, so no database is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import click

from monitor.checks.http.spec import http_monitor
from monitor.checks.once import shown, trace, verdict
from monitor.checks.watchdog import Watchdog
from monitor.cli.monitors import unknown
from monitor.config import load_config
from monitor.core import secrets
from monitor.core.model import CheckResult, Monitor

Echo = Callable[[str], None]
MAX_THREADS = 64  # enough to check a large config at once without a thread per monitor


def select(config_path: str, names: Sequence[str], explicit: bool,
           ctx: click.Context | None = None) -> list[Monitor]:
    """The monitors `names` mean, in their order, each once: all of the config's when
    none is given. An http(s) URL not in the config becomes an ad-hoc http monitor; any
    other name not in the config is a usage error."""
    urls = [_is_url(name) for name in names]
    # Checking only URLs needs no config: unless one was asked for, a missing config.json
    # is no reason to refuse `check https://example.com/`.
    if names and all(urls) and not explicit and not Path(config_path).exists():
        monitors: tuple[Monitor, ...] = ()
    else:
        monitors = load_config(config_path).monitors
    if not names:
        return list(monitors)
    chosen: dict[str, Monitor] = {}
    for name, is_url in zip(names, urls, strict=True):
        adhoc = http_monitor(name) if is_url else None
        keys = {name} if adhoc is None else {name, adhoc.target}
        found = [m for m in monitors if keys & {m.id, m.target, m.name or m.id}]
        if not found and adhoc is None:
            where = f" in {config_path}" if monitors or explicit else ""
            raise click.UsageError(unknown(name, monitors, where, "give a monitor's id, "
                                           "name or target, or an http(s) URL"), ctx)
        if not found and adhoc is not None:
            # An error's message may quote the URL: its password must be masked there too.
            secrets.remember(adhoc.secrets)
            found = [adhoc]
        for monitor in found:
            chosen.setdefault(monitor.id, monitor)
    return list(chosen.values())


def _is_url(text: str) -> bool:
    if any(ch.isspace() for ch in text) or not text.isprintable():
        return False
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def beside(monitors: list[Monitor], db_path: str) -> list[Monitor]:
    """The monitors as a check of them beside the database shows them: push monitors with
    their generated token and their pushes, metric monitors with their series (read only
    when there is one: it costs the store's imports)."""
    if not any(m.kind in ("push", "metric") for m in monitors):
        return monitors
    from monitor.engine import pushes, series

    return [series.ready(pushes.ready(m, db_path), db_path) for m in monitors]


def _header(monitor: Monitor) -> str:
    named = monitor.name and monitor.name != monitor.target  # a push monitor's is its name
    what = f"{monitor.name} ({monitor.target})" if named else monitor.target
    return f"== {what} [{monitor.kind}] =="


def run_checks(monitors: Sequence[Monitor], echo: Echo, debug: bool = False) -> bool:
    """Check every monitor at once; print each trace in the order given, as soon as it and
    those before it are done. True when every one is up."""
    watchdog = Watchdog()
    pool = ThreadPoolExecutor(max_workers=max(1, min(MAX_THREADS, len(monitors))),
                              thread_name_prefix="check")
    up = 0
    try:
        futures: list[Future[tuple[CheckResult | None, list[str]]]] = [
            pool.submit(trace, monitor, watchdog, debug) for monitor in monitors]
        for index, (monitor, future) in enumerate(zip(monitors, futures, strict=True)):
            result, lines = future.result()
            if index:
                echo("")
            echo(_header(monitor))
            for line in lines:
                echo("  " + shown(line, monitor))
            echo(shown(verdict(result), monitor))
            up += result is not None and result.available is True  # warning counts as up
    finally:
        # On Ctrl-C: checks in flight are cut short, those not started are dropped.
        pool.shutdown(wait=False, cancel_futures=True)
        watchdog.stop()
    if len(monitors) > 1:
        echo(f"\n{len(monitors)} checked: {up} up, {len(monitors) - up} not up")
    return up == len(monitors)
