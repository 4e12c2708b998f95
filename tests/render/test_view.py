"""What the views show, as pure functions: names shortened, columns fitted, worst first."""

import pytest

from monitor.render.view import (
    COLUMNS,
    DOWN,
    IDLE,
    MAINTENANCE,
    UNSTABLE,
    UP,
    WARNING,
    counts,
    fit,
    shorten,
    state_of,
    worst_first,
)
from monitor.stats import MonitorStats


def stats(monitor_id, availability=1.0, p50=10.0, down_for=None, checks=10):
    return MonitorStats(monitor_id, checks if availability is not None else 0, availability,
                        1.0, p50, p50 * 3, p50, p50 * 2, p50 * 3, {"200": checks}, {},
                        down_for, None, 0)


@pytest.mark.parametrize(("text", "width", "expected"), [
    ("short", 10, "short"),
    ("https://www.example.com/a/very/long/path/health", 30, "www.example.com…ng/path/health"),
    ("https://user:***@www.example.com/a/very/long/path/health", 30,
     "www.example.com…ng/path/health"),
    ("https://www.example.com/x", 24, "www.example.com/x"),  # the scheme goes first
    ("a plain text that is long", 11, "a pla… long"),
    ("abc", 1, "a"),
    ("http://[staging]/a/long/path/to/the/health/check", 20, "http://[st…lth/check"),
])
def test_shorten_keeps_the_host_and_the_end(text, width, expected):
    assert shorten(text, width) == expected
    assert len(shorten(text, width)) <= width


def test_states_and_worst_first():
    monitors = [stats("up"), stats("slow", p50=500.0), stats("flaky", availability=0.9),
                stats("down", availability=0.95, down_for=3.0), stats("idle", availability=None),
                stats("worse", availability=0.5)]
    # Issue 22, 8: up now with failures in the window is "unstable"; "warning" is only a
    # result that warns (a certificate close to expiry), failures or not.
    assert [state_of(s) for s in monitors] == [UP, UP, UNSTABLE, DOWN, IDLE, UNSTABLE]
    assert state_of(monitors[0], warning=True) == state_of(monitors[2], warning=True) == WARNING
    assert [s.monitor_id for s in worst_first(monitors, {})] == [
        "down", "worse", "flaky", "slow", "up", "idle"]
    assert counts(monitors) == {DOWN: 1, WARNING: 0, UNSTABLE: 2, UP: 2, MAINTENANCE: 0, IDLE: 1}
    assert counts(monitors, warning=lambda monitor_id: monitor_id in ("up", "flaky")) == {
        DOWN: 1, WARNING: 2, UNSTABLE: 1, UP: 1, MAINTENANCE: 0, IDLE: 1}
    # A warning and an unstable monitor rank alike: the lower availability first.
    warned = worst_first(monitors, {}, warning=lambda monitor_id: monitor_id == "up")
    assert [s.monitor_id for s in warned][:4] == ["down", "worse", "flaky", "up"]
    # The current state overrides the window's: a monitor that went down since.
    now_down = worst_first(monitors, {}, down=lambda monitor_id: monitor_id in ("up", "down"))
    assert [s.monitor_id for s in now_down][:2] == ["down", "up"]
    # In maintenance: whatever its checks said before, after the up ones, before the idle.
    maintained = worst_first(monitors, {},
                             maintenance=lambda monitor_id: monitor_id in ("down", "worse"))
    assert [s.monitor_id for s in maintained] == ["flaky", "slow", "up", "worse", "down", "idle"]
    assert state_of(monitors[3], maintenance=True) == MAINTENANCE
    assert counts(monitors, maintenance=lambda monitor_id: monitor_id == "down")[MAINTENANCE] == 1


@pytest.mark.parametrize("width", [40, 60, 80, 120, 160, 200, 250])
def test_fit_never_exceeds_the_width_and_keeps_columns_by_priority(width):
    rows = [stats(f"https://site-{i}.example.com/health/check?region=eu-west-{i}")
            for i in range(5)]
    layout = fit(rows, {}, width)
    assert layout.width <= width
    titles = [c.title for c in layout.columns]
    assert titles[0] == "monitor"
    # Kept columns are a prefix of the priority order, give or take a narrow one that fit
    # where a wider one did not.
    wanted = ["monitor", "avail", "p50", "p99"]
    assert [t for t in titles if t in wanted] == wanted[:len([t for t in titles
                                                             if t in wanted])]
    assert "avail" in titles
    for row in rows:
        assert all(len(cell) <= w for cell, w in zip(layout.cells(row, row.monitor_id),
                                                      layout.widths, strict=True))
    if width >= 200:  # all but the phases, which no row has
        assert len(titles) == len([c for c in COLUMNS if not c.optional])


def test_fit_without_a_width_shows_every_column_whole():
    row = stats("https://site.example.com/" + "x" * 100)
    layout = fit([row], {}, None)
    assert len(layout.columns) == len([c for c in COLUMNS if not c.optional])
    assert layout.cells(row, row.monitor_id)[0] == row.monitor_id


def test_phase_columns_show_p50_and_p90_and_drop_first_when_narrow():
    phases = {"dns": (1.25, 3.5), "connect": (10.0, 20.0), "tls": (30.0, 45.0),
              "ttfb": (120.0, 250.0)}
    rows = [stats("https://a.example/")._replace(phases=phases), stats("https://b.example/")]
    layout = fit(rows, {}, None)
    titles = [c.title for c in layout.columns]
    assert titles[titles.index("p99") + 1:][:4] == ["dns p50/p90", "connect", "tls", "ttfb"]
    cells = dict(zip(titles, layout.cells(rows[0], "a"), strict=True))
    assert (cells["dns p50/p90"], cells["ttfb"]) == ("1.2/3.5", "120/250")
    assert dict(zip(titles, layout.cells(rows[1], "b"), strict=True))["tls"] == "-"
    narrow = [c.title for c in fit(rows, {}, 150).columns]
    assert "p99" in narrow and "tls" not in narrow  # the lowest priority goes first
