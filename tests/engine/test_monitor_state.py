"""A monitor's own state from its locations' (monitor.engine.locations.monitor_state): the
alert rules' verdict, on plain LocationState values."""

from __future__ import annotations

import dataclasses

import pytest

from monitor.core.model import Monitor
from monitor.engine.locations import LocationState, monitor_state, quorum_of, verdict
from tests.alerts.test_alerts import URL
from tests.conftest import make_site


def site(locations: tuple[str, ...] = ("local", "eu", "us"), quorum: int | None = None,
         ) -> Monitor:
    return dataclasses.replace(make_site(URL, name="shop"), locations=locations,
                               quorum=quorum)


def located(*states: str) -> list[LocationState]:
    return [LocationState(f"l{i}", state, None, 0.0, None, None, None, None)
            for i, state in enumerate(states)]


@pytest.mark.parametrize(("states", "expected"), [
    (("up", "up", "up"), "up"),
    (("down", "up", "up"), "warning"),
    (("warning", "up", "up"), "warning"),
    (("down", "down", "up"), "down"),
    (("down", "down", "down"), "down"),
    (("down", "lost", "unknown"), "warning"),  # lost and unknown count neither way
    (("up", "lost", "unknown"), "up"),
    (("down", "down", "lost"), "down"),
])
def test_the_rules_verdict(states: tuple[str, ...], expected: str) -> None:
    assert verdict(located(*states), 2) == expected
    assert monitor_state(site(), located(*states), "down") == expected
    assert monitor_state(site(), located(*states), "up") == expected


def test_no_location_counted_leaves_its_own_state() -> None:
    assert verdict(located("lost", "unknown", "unknown"), 2) is None
    assert monitor_state(site(), located("lost", "unknown", "lost"), "down") == "down"
    assert monitor_state(site(), [], "warning") == "warning"
    assert monitor_state(site(), None, "up") == "up"


@pytest.mark.parametrize("own", ["paused", "unknown", "maintenance"])
def test_paused_unknown_and_maintenance_come_first(own: str) -> None:
    assert monitor_state(site(), located("down", "down", "down"), own) == own


def test_the_quorum_is_the_config_s_else_a_majority() -> None:
    assert quorum_of(site()) == 2
    assert quorum_of(site(("local", "eu"))) == 2
    assert quorum_of(site(("a", "b", "c", "d"))) == 3
    assert quorum_of(site(quorum=1)) == 1
    assert monitor_state(site(quorum=1), located("down", "up", "up"), "up") == "down"
    assert monitor_state(site(quorum=3), located("down", "down", "up"), "down") == "warning"


def test_a_monitor_of_one_location_keeps_its_own_state() -> None:
    assert monitor_state(site(("local",)), located("down"), "up") == "up"
