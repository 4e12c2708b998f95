"""Each location's state of a monitor checked from several (monitor.engine.locations), as
the views show it: read from the running evaluator, and replayed from the database's rows
where no evaluator judges the monitor. The two agree: the same checks, recorded live by an
evaluator (injected clocks) and written to a real SQLite database, give the same states,
availabilities and latest checks; lost and silent locations included."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.alerts import AlertEvaluator
from monitor.config.agents import Agent
from monitor.core.model import CheckResult, Monitor
from monitor.core.rules import AlertRules
from monitor.engine.locations import (
    LocationState,
    from_evaluator,
    from_store,
    location_states,
    lost_locations,
)
from monitor.store.sqlite.queries import SqliteReader, open_reader
from monitor.store.sqlite.writer import Store
from tests.alerts.test_alerts import T0, URL, Clock
from tests.conftest import make_site

WINDOW = 10.0


def monitor(locations: tuple[str, ...] = ("local", "eu", "us"), **rules: object) -> Monitor:
    return dataclasses.replace(make_site(URL, window=WINDOW, name="shop"), locations=locations,
                               rules=AlertRules(**rules))  # type: ignore[arg-type]


class Both:
    """An evaluator fed live and a database written with the same checks."""

    def __init__(self, folder: Path, site: Monitor) -> None:
        self.site = site
        self.clock = Clock()
        self.evaluator = AlertEvaluator(clock=self.clock, mono=lambda: self.clock.mono)
        self.evaluator.configure([site])
        self.store = Store(folder / "monitor.db").start()
        self.path = folder / "monitor.db"

    def checks(self, start: int, **patterns: str) -> None:
        """One check a second from each location: "." up, "x" down (HTTP 503), "w" up but
        warning, "?" unknown (offline), " " none."""
        results = []
        for i in range(max(len(p) for p in patterns.values())):
            for location, pattern in patterns.items():
                mark = pattern[i] if i < len(pattern) else " "
                if mark == " ":
                    continue
                self.clock.set(T0 + start + i)
                result = CheckResult(
                    URL, self.clock.now, None if mark == "?" else mark != "x",
                    None if mark == "?" else 503 if mark == "x" else 200, 5.0 + i,
                    {"x": "http_status", "w": "tls_expiry", "?": "offline"}.get(mark),
                    "", mono=self.clock.mono, warning=mark == "w", location=location)
                self.evaluator.record(result)
                results.append(result)
        assert self.store.put_checks(results)
        assert self.store.flush(30)

    def reader(self) -> SqliteReader:
        return open_reader(self.path)

    def close(self) -> None:
        self.store.close()


@pytest.fixture()
def make_both(tmp_path: Path) -> Iterator:
    made: list[Both] = []

    def make(site: Monitor) -> Both:
        both = Both(tmp_path, site)
        made.append(both)
        return both

    yield make
    for both in made:
        both.close()


def states(found: list[LocationState] | None) -> list[tuple]:
    assert found is not None
    return [(s.location, s.state, None if s.availability is None else round(s.availability, 3),
             s.last_check, s.status, s.reason) for s in found]


def test_the_evaluator_and_the_database_agree_on_each_location(make_both) -> None:
    both = make_both(monitor())
    both.checks(0, local="........", eu="...xxxxx", us="......ww")
    now = both.clock.now
    live = from_evaluator(both.evaluator, both.site, now)
    assert states(live) == [
        ("local", "up", 1.0, T0 + 7, 200, None),
        ("eu", "down", 0.375, T0 + 7, 503, "http_status"),
        ("us", "warning", 1.0, T0 + 7, 200, "tls_expiry")]
    assert live is not None and {s.since for s in live} == {now - WINDOW}
    reader = both.reader()
    try:
        assert from_store(reader, [both.site], frozenset(), now) == {both.site.id: live}
    finally:
        reader.close()


def test_a_location_down_stays_down_until_the_rules_recover_it_in_both(make_both) -> None:
    # eu's latest checks are up, but the rules (its window, recoverAfter 3) keep it down.
    both = make_both(monitor(recover_after=3))
    both.checks(0, local="..........", eu="xxxxxxxx..", us="..........")
    now = both.clock.now
    live = from_evaluator(both.evaluator, both.site, now)
    assert states(live)[1] == ("eu", "down", 0.2, T0 + 9, 200, None)
    reader = both.reader()
    try:
        assert from_store(reader, [both.site], frozenset(), now)[both.site.id] == live
    finally:
        reader.close()
    both.checks(10, eu="........")
    assert [s.state for s in from_evaluator(both.evaluator, both.site, both.clock.now)
            or []] == ["up", "up", "up"]


def test_a_lost_location_and_a_silent_one(make_both) -> None:
    both = make_both(monitor())
    both.checks(0, local="....", eu="xxxx", us="....")
    both.evaluator.location_lost("eu")
    both.checks(20, local="..")  # us silent for longer than the window
    now = both.clock.now
    live = from_evaluator(both.evaluator, both.site, now)
    # Lost: its window dropped, its latest check kept; silent: none in the window.
    assert states(live) == [("local", "up", 1.0, T0 + 21, 200, None),
                            ("eu", "lost", None, T0 + 3, 503, "http_status"),
                            ("us", "unknown", None, T0 + 3, 200, None)]
    reader = both.reader()
    try:
        stored = from_store(reader, [both.site], {"eu"}, now)[both.site.id]
    finally:
        reader.close()
    # The database's read is the window's: what is older is not in it.
    assert states(stored) == [("local", "up", 1.0, T0 + 21, 200, None),
                              ("eu", "lost", None, None, None, None),
                              ("us", "unknown", None, None, None, None)]


def test_unknown_checks_count_neither_way_and_maintenance_forgets_before_it(make_both) -> None:
    both = make_both(monitor())
    both.checks(0, local="..??", eu="xx..", us="....")
    now = both.clock.now
    live = from_evaluator(both.evaluator, both.site, now)
    assert states(live)[0] == ("local", "up", 1.0, T0 + 3, None, "offline")
    reader = both.reader()
    try:
        assert from_store(reader, [both.site], frozenset(), now)[both.site.id] == live
    finally:
        reader.close()


def test_one_location_is_not_split_and_the_store_serves_what_the_evaluator_does_not(
        make_both) -> None:
    both = make_both(monitor())
    both.checks(0, local="..", eu="xx", us="..")
    alone = monitor(("local",))
    other = dataclasses.replace(monitor(("eu", "us")), id="other", target="http://other.test/")
    assert from_evaluator(both.evaluator, alone, both.clock.now) is None
    reader = both.reader()
    try:
        found = location_states([both.site, alone, other], reader, both.clock.now,
                                evaluator=both.evaluator, lost=frozenset())
    finally:
        reader.close()
    # The evaluator's for the one it judges; the database's (no check yet) for the other.
    assert set(found) == {both.site.id, "other"}
    assert found[both.site.id] == from_evaluator(both.evaluator, both.site, both.clock.now)
    assert [s.state for s in found["other"]] == ["unknown", "unknown"]


def test_a_location_is_lost_when_the_database_heard_none_of_its_agents_for_the_timeout(
        ) -> None:
    agents = [Agent("eu-1", "eu", "t" * 16), Agent("eu-2", "eu", "u" * 16),
              Agent("us-1", "us", "v" * 16), Agent("ap-1", "ap", "w" * 16)]
    seen = {"eu-1": T0 - 100, "eu-2": T0 - 5, "us-1": T0 - 60}
    # eu: one agent heard lately; us: its one agent silent for the timeout; ap: never heard.
    assert lost_locations(agents, seen, 60.0, T0) == {"us", "ap"}
