"""The live view's row of a monitor checked from several locations is in the state the alert
rules judge (its style: warning yellow, down bold red), not its latest check's: down from one
location of three is a warning, from two (the quorum) down. Under `-m` (a real Runtime's
rules, fed its checks) and under `-r` (each location's latest check, a majority of them),
over a real SQLite database."""

from __future__ import annotations

import time

import pytest
from rich.text import Text

from monitor.core.model import LOCAL
from monitor.render.live import STYLES, LiveView, runtime_locations
from monitor.render.view import DOWN, UNSTABLE, UP, WARNING
from tests.render.test_live_locations import a_view, checks, running  # noqa: F401 (fixture)


def style_of(view: LiveView, now: float, name: str) -> str:
    """The style of the row of `name` (its first span: the name and its availability)."""
    for line in view.frame(now).renderables:
        if isinstance(line, Text) and line.plain.startswith(name + " "):
            return str(line.spans[0].style)
    raise AssertionError(f"no row of {name}")


# eu's checks come last of each second: the latest check stored is eu's.
@pytest.mark.parametrize(("marks", "expected"), [
    ({LOCAL: "..........", "us": "..........", "eu": "xxxxxxxxxx"}, WARNING),
    ({LOCAL: "..........", "us": "xxxxxxxxxx", "eu": "xxxxxxxxxx"}, DOWN),
    ({LOCAL: "..........", "us": "..........", "eu": ".........."}, UP),
])
def test_under_m_the_row_is_in_the_rules_state(running, marks, expected) -> None:  # noqa: F811
    runtime, db = running
    now = time.time()
    for result in checks(now, marks):
        runtime.engine.record(result)
    assert runtime.store.flush(30)
    view = a_view(db, 120, locations=runtime_locations(runtime))
    assert style_of(view, now, "shop") == STYLES[expected]
    assert style_of(view, now, "solo") == STYLES[UP]


def test_under_r_a_majority_of_the_locations_latest_checks(running) -> None:  # noqa: F811
    runtime, db = running
    now = time.time()
    runtime.store.put_checks(checks(now, {LOCAL: "....", "us": "....", "eu": "xxxx"}))
    assert runtime.store.flush(30)
    assert style_of(a_view(db, 120), now, "shop") == STYLES[WARNING]
    runtime.store.put_checks(checks(now + 1, {LOCAL: ".", "us": "x", "eu": "x"}))
    assert runtime.store.flush(30)
    assert style_of(a_view(db, 120), now + 1, "shop") == STYLES[DOWN]
    assert STYLES[UNSTABLE] != STYLES[WARNING]  # (the two rows are told apart)
