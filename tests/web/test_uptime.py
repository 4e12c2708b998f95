"""Uptime per day and trends through the API, over rows the real writer rolled up: the
same figures as the store's reads (tested against the terminal's stats in
tests/store/test_history_reads.py), as the document says, and clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from monitor.config import load_config
from monitor.stats import trend
from monitor.store.api import iso_utc
from monitor.store.sqlite.queries import open_reader
from monitor.store.sqlite.rollups import DAY, HOUR
from monitor.store.sqlite.writer import Store
from monitor.web import create_app
from monitor.web.context import WebContext
from tests.store.test_rollups import DAY0, MONITORS, feed, history
from tests.support.web import write_config

END = DAY0 + 4 * DAY + 13 * HOUR + 1234  # "now": the afternoon of the fifth day


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder: Path = tmp_path_factory.mktemp("uptime")
    db = folder / "monitoring.db"
    # 400 checks a flush (15 hours): the same rows as 40, written 4 times faster.
    feed(db, history(DAY0 - 5 * HOUR, END), [0.0], batch=400)
    write_config(folder / "config.json", {"monitors": [
        {"URL": MONITORS[0]}, {"type": "tcp", "host": "b.example", "port": 25},
        {"URL": MONITORS[2]}]})
    store = Store(db)
    context = WebContext(folder / "config.json", db, store,
                         load_config(folder / "config.json"), clock=lambda: END)
    app = create_app(context)
    yield app.test_client(), db
    context.close()


def test_uptime_of_every_monitor_is_the_sum_of_its_days(client: tuple[FlaskClient, Path],
                                                        ) -> None:
    test_client, db = client
    answer = test_client.get("/api/v1/uptime?days=7&daily=true")
    assert answer.status_code == 200, answer.json
    reader = open_reader(db)
    try:
        expected = reader.uptime_by_day(None, 7, END)
    finally:
        reader.close()
    body = answer.json
    assert body["days"] == 7 and body["until"] == iso_utc(END)
    assert {item["id"] for item in body["monitors"]} == set(MONITORS)
    for item in body["monitors"]:
        days = expected[item["id"]]
        assert item["checks"] == sum(days.checks) and item["up"] == sum(days.up)
        assert item["availability"] == pytest.approx(sum(days.up) / sum(days.checks))
        assert item["daily"] == {"checks": days.checks, "up": days.up}
        assert body["from"] == iso_utc(days.first)


def test_uptime_of_chosen_monitors_in_the_order_asked(client: tuple[FlaskClient, Path],
                                                      ) -> None:
    answer = client[0].get(f"/api/v1/uptime?monitor={MONITORS[2]}&monitor={MONITORS[1]}")
    assert [item["id"] for item in answer.json["monitors"]] == [MONITORS[2], MONITORS[1]]
    assert "daily" not in answer.json["monitors"][0]


@pytest.mark.parametrize("query, parameter", [
    ("days=0", "days"), ("days=x", "days"), ("days=99999", "days"), ("daily=yes", "daily")])
def test_bad_uptime_parameters_are_400(client: tuple[FlaskClient, Path], query: str,
                                       parameter: str) -> None:
    answer = client[0].get(f"/api/v1/uptime?{query}")
    assert answer.status_code == 400 and answer.json["parameter"] == parameter


def test_uptime_of_an_unknown_monitor_is_404(client: tuple[FlaskClient, Path]) -> None:
    answer = client[0].get("/api/v1/uptime?monitor=nope")
    assert answer.status_code == 404 and "'nope'" in answer.json["detail"]


def test_a_trend_by_day_is_the_store_s(client: tuple[FlaskClient, Path]) -> None:
    test_client, db = client
    since = DAY0
    answer = test_client.get(f"/api/v1/monitors/{MONITORS[1]}/trend?since={since}"
                             f"&until={END}&step=1d")
    assert answer.status_code == 200, answer.json
    reader = open_reader(db)
    try:
        expected = trend(reader, MONITORS[1], since, END, DAY)
    finally:
        reader.close()
    body = answer.json
    assert body["step"] == DAY and body["metric"] is None
    assert body["buckets"]["start"] == [bucket.start for bucket in expected]
    assert body["buckets"]["checks"] == [bucket.checks for bucket in expected]
    assert body["buckets"]["p90"] == [bucket.p90 for bucket in expected]
    assert len(body["buckets"]["start"]) == 5


def test_a_trend_without_a_step_has_a_few_hundred_buckets_at_most(
        client: tuple[FlaskClient, Path]) -> None:
    answer = client[0].get(f"/api/v1/monitors/{MONITORS[0]}/trend")  # the last day
    assert answer.status_code == 200
    assert answer.json["step"] == 300 and len(answer.json["buckets"]["start"]) <= 289


@pytest.mark.parametrize("query, parameter", [
    ("step=soon", "step"), ("step=1s&since=0", "step"), (f"since={END}&until=1", "until"),
    ("since=yesterday", "since")])
def test_bad_trend_parameters_are_400(client: tuple[FlaskClient, Path], query: str,
                                      parameter: str) -> None:
    answer = client[0].get(f"/api/v1/monitors/{MONITORS[0]}/trend?{query}")
    assert answer.status_code == 400 and answer.json["parameter"] == parameter


def test_a_trend_of_an_unknown_monitor_is_404(client: tuple[FlaskClient, Path]) -> None:
    assert client[0].get("/api/v1/monitors/nope/trend").status_code == 404


@pytest.mark.parametrize("query", [
    "days=3660&daily=true",  # 3 monitors: 10,980 figures, fine
    "days=3660"])
def test_long_uptime_of_a_few_monitors_is_answered(client: tuple[FlaskClient, Path],
                                                    query: str) -> None:
    assert client[0].get(f"/api/v1/uptime?{query}").status_code == 200


def test_uptime_of_too_many_figures_at_once_is_400(client: tuple[FlaskClient, Path],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from monitor.web.api import uptime

    monkeypatch.setattr(uptime, "MAX_DAILY_CELLS", 3 * 90)  # three monitors, 90 days
    assert client[0].get("/api/v1/uptime?days=90&daily=true").status_code == 200
    answer = client[0].get("/api/v1/uptime?days=91&daily=true")
    assert answer.status_code == 400 and answer.json["parameter"] == "days"
    assert "273 figures, more than 270" in answer.json["detail"]
    names = "&".join(f"monitor=m{i}" for i in range(uptime.MAX_NAMED + 1))
    answer = client[0].get(f"/api/v1/uptime?{names}")
    assert answer.status_code == 400 and answer.json["parameter"] == "monitor"


@pytest.mark.parametrize("step", ["9" * 400 + "s", "1e300s", "3661d"])
def test_an_endless_step_is_400_not_500(client: tuple[FlaskClient, Path], step: str) -> None:
    answer = client[0].get(f"/api/v1/monitors/{MONITORS[0]}/trend?step={step}")
    assert answer.status_code == 400 and answer.json["parameter"] == "step"
