"""The live view's rows of a monitor checked from several locations, through its renderer
(`LiveView.frame(now)` drawn by rich on a console of a given size) over a real SQLite
database: each location's verdict in the row ("local up, eu down, us up"), within the
row's width rules (the `locations` column after the availability, dropped when narrow,
shortened to those not up). Under `-m` the verdicts are the running monitor's alert rules'
(a real Runtime's evaluator fed its checks); under `-r` each location's latest check."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from monitor.config import load_config
from monitor.core.model import LOCAL, CheckResult
from monitor.render.live import LiveView, Pulse, runtime_locations
from monitor.render.view import locations_text
from monitor.runtime import Runtime
from monitor.store.sqlite.writer import Store

TARGET = "http://127.0.0.1:9/shop"


def config(folder: Path) -> Any:
    path = folder / "config.json"
    path.write_text(json.dumps({
        "monitors": [
            {"id": "shop", "name": "shop", "URL": TARGET, "locations": ["local", "eu", "us"],
             "checkInterval": 1},
            {"id": "solo", "name": "solo", "URL": "http://127.0.0.1:9/solo"}],
        "agents": [{"name": "eu-1", "token": "agent-token-eu-0123456789", "location": "eu"},
                   {"name": "us-1", "token": "agent-token-us-0123456789", "location": "us"}],
        "alertWindow": 10}))
    return load_config(path, warn=lambda _line: None)


def checks(now: float, marks: dict[str, str]) -> list[CheckResult]:
    """One check a second of shop from each location ("." up, "x" down), the last at
    `now`, with `mono` as the running monitor's checks have it; and solo's, up."""
    rows = []
    mono = time.monotonic()
    length = max(len(pattern) for pattern in marks.values())
    for i in range(length):
        back = length - 1 - i
        for location, pattern in marks.items():
            up = pattern[i] == "."
            rows.append(CheckResult("shop", now - back, up, 200 if up else 503, 20.0,
                                    None if up else "http_status", "", mono=mono - back,
                                    location=location))
        rows.append(CheckResult("solo", now - back, True, 200, 5.0, mono=mono - back))
    return rows


def draw(view: LiveView, now: float) -> list[str]:
    console = view.console
    console.begin_capture()
    console.print(view.frame(now))
    return console.end_capture().rstrip("\n").split("\n")


def a_view(db: Path, width: int, **options: Any) -> LiveView:
    console = Console(width=width, height=30, file=io.StringIO(), color_system=None,
                      force_terminal=False)
    return LiveView(db, threading.Event(), lambda _reader, _now: Pulse(None, None, None),
                    console, keys=False, **options)


def row(lines: list[str], name: str) -> str:
    return next(line for line in lines if line.startswith(name + " "))


@pytest.fixture()
def running(tmp_path: Path) -> Iterator[tuple[Runtime, Path]]:
    """A real Runtime (not started: its engine's rules readied, fed checks by hand) over a
    real database."""
    db = tmp_path / "monitoring.db"
    store = Store(db).start()
    runtime = Runtime(config(tmp_path), store)
    runtime.engine.restore()
    store.set_monitors(runtime.config.monitors)
    yield runtime, db
    store.close()


def test_under_m_a_row_says_each_location_as_the_running_rules_judge_it(running) -> None:
    runtime, db = running
    now = time.time()
    # eu's latest check is up, but its window (10 s) is still mostly down: the rules say
    # down, where its latest check alone would say up.
    for result in checks(now, {LOCAL: "..........", "eu": "xxxxxxxxx.", "us": ".........."}):
        runtime.engine.record(result)
    assert runtime.store.flush(30)
    runtime.engine.alerts.location_lost("us")  # as the agents' watch tells it
    lines = draw(a_view(db, 120, locations=runtime_locations(runtime)), now)
    header = next(line for line in lines if line.startswith("monitor "))
    assert header.split()[:3] == ["monitor", "avail", "locations"]
    assert "local up, eu down, us lost" in row(lines, "shop")
    assert "local" not in row(lines, "solo") and all(len(line) <= 120 for line in lines)


def test_under_r_a_row_says_each_location_s_latest_check(running) -> None:
    runtime, db = running
    now = time.time()
    runtime.store.put_checks(checks(now, {LOCAL: "....", "eu": "xxx.", "us": "..xx"}))
    assert runtime.store.flush(30)
    lines = draw(a_view(db, 120), now)  # no source: -r's, from the database alone
    assert "local up, eu up, us down" in row(lines, "shop")


@pytest.mark.parametrize("width", [40, 60, 80, 100, 200])
def test_the_locations_fit_the_width_or_leave_the_row(running, width: int) -> None:
    runtime, db = running
    now = time.time()
    runtime.store.put_checks(checks(now, {LOCAL: "..", "eu": "xx", "us": ".."}))
    assert runtime.store.flush(30)
    lines = draw(a_view(db, width), now)
    assert all(len(line) <= width for line in lines), lines
    shop = row(lines, "shop")
    # The column comes after the availability's: kept from 60 columns on, whole.
    assert ("local up, eu down, us up" in shop) == (width >= 60), shop


def test_many_locations_are_said_by_those_not_up_and_a_count() -> None:
    verdicts = [("local", "up"), ("eu-west", "down"), ("eu-central", "up"),
                ("us-east", "lost"), ("ap-south", "up"), ("sa-east", "up")]
    assert locations_text(verdicts[:2]) == "local up, eu-west down"
    assert locations_text(verdicts) == "eu-west down, us-east lost, 4 up"
