"""GET /api/v1/monitors/{id}/traffic: an access log's requests over a window, read from
the results the `log` kind recorded through the real writer, equal to what the test counts
from the lines it wrote; the window's start from the minute rows, its end from the raw
results."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from monitor.checks.log import LogWatch
from monitor.config import load_config
from monitor.store.api import AlertRecord, iso_utc
from monitor.store.sqlite.writer import Store
from monitor.web import create_app
from monitor.web.context import WebContext
from tests.support.access_logs import combined
from tests.support.web import write_config

NOW = 1_800_000_000 + 7 * 3600 + 1234.5  # the clock of the writer and the server
FIRST = int(NOW) - 3000  # the log's first line: 50 minutes ago
LAST = int(NOW) - 40
SECTIONS = ["/api/user/1", "/api/order", "/img/logo.png", "/", "/blog/post/1"]
CLIENTS = [f"10.0.0.{i}" for i in range(1, 6)]
STATUSES = [200, 200, 200, 201, 301, 404, 500, 503]


def _section(path: str) -> str:
    return "/" + path.split("/")[1]  # up to the second "/": "/api/user/1" is "/api"


def _lines() -> list[tuple[float, str, str, int]]:
    rng = random.Random(7)
    lines = []
    for second in range(FIRST, LAST):
        # Two spikes above maxRate: an alert and its recovery, then an alert still open.
        spike = FIRST + 1200 <= second < FIRST + 1260 or second >= LAST - 80
        for k in range(8 if spike else rng.randint(0, 4)):
            lines.append((second + k / 5, rng.choice(CLIENTS), rng.choice(SECTIONS),
                          rng.choice(STATUSES)))
    return lines


def _counts(lines: list[tuple[float, str, str, int]], since: float) -> dict[str, Any]:
    kept = [line for line in lines if line[0] >= since]
    classes = Counter(f"{status // 100}xx" for _, _, _, status in kept)
    return {"hits": len(kept),
            "statuses": {name: classes.get(name, 0) for name in ("1xx", "2xx", "3xx", "4xx",
                                                                 "5xx")},
            "sections": Counter(_section(path) for _, _, path, _ in kept),
            "clients": Counter(client for _, client, _, _ in kept)}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder: Path = tmp_path_factory.mktemp("traffic")
    lines = _lines()
    (folder / "access.log").write_text("".join(
        combined(at, client, path, status) + "\n" for at, client, path, status in lines))
    write_config(folder / "config.json", {"websites": [
        {"type": "log", "name": "web", "path": "access.log", "maxRate": 3,
         "fromStart": True},
        {"type": "tcp", "name": "db", "host": "127.0.0.1", "port": 9}]})
    config = load_config(folder / "config.json")
    db = folder / "monitoring.db"
    # The kind's own watch reads the log; its results go through the real writer.
    watch = LogWatch(config.monitors[0])
    results, events = [], []
    for wall in (NOW - 30, NOW - 29, NOW - 28, NOW):  # the last: quiet 28 s, all final
        found, raised, _ = watch.poll(wall)
        results += found
        events += raised
    watch.close()
    store = Store(db, clock=lambda: NOW).start()
    store.set_monitors(config.monitors)
    for result in results:
        store.put_check(result)
    for event in events:  # as the engine stores them
        store.put_alert(AlertRecord(iso_utc(event.time), config.monitors[0].id, event.type,
                                    iso_utc(event.start), None if event.end is None
                                    else iso_utc(event.end), 0.0, event.message))
    assert [event.type for event in events] == ["alert", "recovery", "alert"]
    assert store.flush()
    context = WebContext(folder / "config.json", db, store, config, clock=lambda: NOW)
    app = create_app(context)
    yield app.test_client(), config.monitors[0].id, lines, results
    context.close()
    store.close()


@pytest.mark.parametrize(("window", "seconds", "step"), [
    ("10m", 600, 10), ("1h", 3600, 60), ("24h", 86400, 600)])
def test_figures_are_the_lines_counted(site: tuple[FlaskClient, str, list, list],
                                       window: str, seconds: int, step: int) -> None:
    client, monitor_id, lines, _ = site
    answer = client.get(f"/api/v1/monitors/{monitor_id}/traffic?window={window}&top=3")
    assert answer.status_code == 200, answer.json
    body = answer.json
    since = int(NOW - seconds) // step * step
    expected = _counts(lines, since)
    assert body["window"] == window and body["step"] == step
    assert body["hits"] == expected["hits"] > 0
    assert body["statuses"] == expected["statuses"]
    top_sections = sorted(expected["sections"].items(), key=lambda i: (-i[1], i[0]))[:3]
    assert [(s["name"], s["hits"]) for s in body["sections"]] == top_sections
    top_clients = sorted(expected["clients"].items(), key=lambda i: (-i[1], i[0]))[:3]
    assert [(c["name"], c["hits"]) for c in body["clients"]] == top_clients
    assert body["maxRate"] == 3 and body["maxErrorRate"] is None
    # Each step's rate is its periods' mean: times the periods' seconds, the hits again.
    assert body["rates"]["at"] == sorted(body["rates"]["at"])
    assert all(at >= since and at % step == 0 for at in body["rates"]["at"])


def test_rates_of_the_last_ten_minutes_are_each_period(
        site: tuple[FlaskClient, str, list, list]) -> None:
    client, monitor_id, lines, results = site
    body = client.get(f"/api/v1/monitors/{monitor_id}/traffic").json
    assert body["window"] == "10m"
    per_period = Counter(int(at) // 10 * 10 for at, *_ in lines)
    since = int(NOW - 600) // 10 * 10
    shown = dict(zip(body["rates"]["at"], body["rates"]["rate"], strict=True))
    assert shown == {at: per_period[at] / 10 for at in
                     {int(r.timestamp) for r in results if r.timestamp >= since}}
    # The traffic rule's figure: the 2 minutes before the newest period's end.
    end = max(r.timestamp for r in results) + 10
    assert body["recent"] == pytest.approx(
        sum(1 for at, *_ in lines if end - 120 <= at < end) / 120)
    assert body["latest"]["at"].startswith("2027-01-15T")
    # The second spike's alert is open; the first one's recovered.
    [alert] = body["alerts"]
    assert alert["rule"] == "traffic" and alert["message"].startswith(
        "High traffic generated an alert - hits = ")
    assert body["lastAlert"] == {"type": "alert", "rule": "traffic",
                                 "message": alert["message"]}


def current_monitors(client: FlaskClient) -> Any:
    return client.application.extensions["monitor"].config.monitors


def test_not_a_log_and_bad_parameters(site: tuple[FlaskClient, str, list, list]) -> None:
    client, monitor_id, _, _ = site
    other = next(m.id for m in current_monitors(client) if m.id != monitor_id)
    answer = client.get(f"/api/v1/monitors/{other}/traffic")
    assert answer.status_code == 404 and "not an access log" in answer.json["detail"]
    assert client.get("/api/v1/monitors/nothing/traffic").status_code == 404
    answer = client.get(f"/api/v1/monitors/{monitor_id}/traffic?window=2h")
    assert answer.status_code == 400 and answer.json["parameter"] == "window"
    answer = client.get(f"/api/v1/monitors/{monitor_id}/traffic?top=0")
    assert answer.status_code == 400 and answer.json["parameter"] == "top"
