"""Alert rows with their deliveries, and acknowledging an alert, through the API over rows
written by the real Store: the pages, the filters, the ack stored once, and each problem
with nothing changed."""

from __future__ import annotations

import time
from typing import Any

import pytest

from monitor.store.api import AlertRecord, Delivery, DeliveryDone, MonitorRow, iso_utc
from tests.support.db import query
from tests.support.web import READ_TOKEN, WRITE_TOKEN, bearer

PROBLEM = "application/problem+json"
PORT = "tcp:127.0.0.1:9"
OTHER = "tcp:127.0.0.1:10"
DOCUMENT = {"monitors": [{"type": "tcp", "host": "127.0.0.1", "port": 9},
                         {"type": "tcp", "host": "127.0.0.1", "port": 10}]}
NOW = float(int(time.time()))


def alert(monitor: str, kind: str, at: float, start: float | None = None,
          deliveries: tuple[Delivery, ...] = ()) -> AlertRecord:
    return AlertRecord(iso_utc(at), monitor, kind, iso_utc(start if start is not None else at),
                       iso_utc(at) if kind == "recovery" else None, 0.25,
                       f"{kind} of {monitor}", deliveries=deliveries)


@pytest.fixture()
def web(make_web: Any) -> Any:
    """Rows 1-5: the port's alert (to two providers), a warning of the other, a reminder
    and the recovery of the port's alert, and the port's new alert (open)."""
    web = make_web(DOCUMENT)
    web.context.clock = lambda: NOW
    web.store.set_monitors([MonitorRow(PORT, "tcp", "127.0.0.1:9"),
                            MonitorRow(OTHER, "tcp", "127.0.0.1:10")])
    web.store.put_alert(alert(PORT, "alert", NOW - 50, deliveries=(
        Delivery("ops", "alert", "t", "b"), Delivery("pager", "alert", "t", "b"))))
    web.store.put_alert(alert(OTHER, "warning", NOW - 40))
    web.store.put_alert(alert(PORT, "reminder", NOW - 30, NOW - 50))
    web.store.put_alert(alert(PORT, "recovery", NOW - 20, NOW - 50))
    web.store.put_alert(alert(PORT, "alert", NOW - 10))
    web.store.flush()
    web.store.put_delivery(DeliveryDone(1, NOW - 49))  # ops: sent
    web.store.put_delivery(DeliveryDone(2, NOW - 49, "HTTP 500", retry_at=NOW + 10))
    web.store.flush()
    return web


def ids(answer: Any) -> list[int]:
    return [row["id"] for row in answer.json["alerts"]]


def test_alert_rows_newest_first_with_their_deliveries(web: Any) -> None:
    answer = web.client.get("/api/v1/alerts")
    assert answer.status_code == 200 and answer.json["more"] is False
    assert ids(answer) == [5, 4, 3, 2, 1]
    newest, *_, first = answer.json["alerts"]
    assert newest == {"id": 5, "time": iso_utc(NOW - 10), "monitor": PORT, "type": "alert",
                      "start": iso_utc(NOW - 10), "end": None, "availability": 0.25,
                      "message": f"alert of {PORT}", "open": True, "acknowledged": None,
                      "deliveries": []}
    assert first["open"] is False  # recovered
    assert first["deliveries"] == [
        {"provider": "ops", "state": "sent", "attempts": 1, "error": None},
        {"provider": "pager", "state": "pending", "attempts": 1, "error": "HTTP 500"}]
    assert [row["open"] for row in answer.json["alerts"][1:4]] == [None, None, None]


def test_filters_and_pages(web: Any) -> None:
    get = web.client.get
    assert ids(get(f"/api/v1/alerts?monitor={PORT}")) == [5, 4, 3, 1]
    assert ids(get("/api/v1/alerts?type=alert")) == [5, 1]
    assert ids(get(f"/api/v1/alerts?type=warning&monitor={OTHER}")) == [2]
    page = get("/api/v1/alerts?limit=2")
    assert ids(page) == [5, 4] and page.json["more"] is True
    page = get("/api/v1/alerts?limit=2&before=4")
    assert ids(page) == [3, 2] and page.json["more"] is True
    page = get("/api/v1/alerts?limit=2&before=2")
    assert ids(page) == [1] and page.json["more"] is False
    # After an id: the rows just after it, newest first; `more`: newer ones are left.
    page = get("/api/v1/alerts?limit=2&after=1")
    assert ids(page) == [3, 2] and page.json["more"] is True
    page = get("/api/v1/alerts?limit=2&after=3")
    assert ids(page) == [5, 4] and page.json["more"] is False


@pytest.mark.parametrize("params, parameter, detail", [
    ("type=outage", "type", "type: 'outage' is not one of alert, recovery, reminder"),
    ("limit=1001", "limit", "limit: '1001' is not a whole number from 1 to 1000"),
    ("after=-1", "after", "after: '-1' is not a whole number"),
    ("before=0", "before", "before: '0' is not a whole number from 1"),
    ("monitor=tcp:nowhere:1", "monitor", "monitor: no monitor has the id 'tcp:nowhere:1'"),
])
def test_bad_parameters_are_400(web: Any, params: str, parameter: str, detail: str) -> None:
    answer = web.client.get(f"/api/v1/alerts?{params}")
    assert answer.status_code == 400 and answer.mimetype == PROBLEM
    assert answer.json["parameter"] == parameter and answer.json["detail"].startswith(detail)


def acks(web: Any) -> list[tuple]:
    return query(web.db_path, "SELECT alert, monitor, at, by FROM acks ORDER BY alert")


def test_acknowledging_an_open_alert_stores_it_once(make_web: Any, web: Any) -> None:
    answer = web.client.post("/api/v1/alerts/5/ack")
    assert answer.status_code == 200
    assert answer.json["id"] == 5 and answer.json["open"] is True
    assert answer.json["acknowledged"] == {"by": "local", "at": iso_utc(NOW)}
    assert acks(web) == [(5, PORT, NOW, "local")]
    # Again, later: the first acknowledgement is answered, nothing changes.
    web.context.clock = lambda: NOW + 60
    again = web.client.post("/api/v1/alerts/5/ack")
    assert again.status_code == 200 and again.json == answer.json
    assert acks(web) == [(5, PORT, NOW, "local")]
    listed = web.client.get("/api/v1/alerts?type=alert").json["alerts"]
    assert [row["acknowledged"] for row in listed] == [{"by": "local", "at": iso_utc(NOW)},
                                                       None]


def test_the_ack_names_the_token(make_web: Any) -> None:
    web = make_web(DOCUMENT, tokens=True)
    web.store.put_alert(alert(PORT, "alert", NOW))
    web.store.flush()
    answer = web.client.post("/api/v1/alerts/1/ack", headers=bearer(WRITE_TOKEN))
    assert answer.status_code == 200 and answer.json["acknowledged"]["by"] == "ci"
    assert WRITE_TOKEN not in str(acks(web))


@pytest.mark.parametrize("row, status, detail", [
    (6, 404, "no alert row has the id 6"),
    (2 ** 63, 404, "no alert row has the id"),
    (3, 409, "row 3 is a reminder, not an alert: acknowledge the alert row it is about"),
    (4, 409, "row 4 is a recovery, not an alert"),
    (1, 409, "alert 1 is over (its monitor recovered): there is nothing to acknowledge"),
])
def test_what_cannot_be_acknowledged(web: Any, row: int, status: int, detail: str) -> None:
    answer = web.client.post(f"/api/v1/alerts/{row}/ack")
    assert answer.status_code == status and answer.mimetype == PROBLEM
    assert answer.json["detail"].startswith(detail)
    assert acks(web) == []


def test_an_id_that_is_no_number_is_404(web: Any) -> None:
    assert web.client.post("/api/v1/alerts/five/ack").status_code == 404
    assert web.client.post("/api/v1/alerts/-1/ack").status_code == 404


def test_scopes(make_web: Any) -> None:
    web = make_web(DOCUMENT, tokens=True)
    web.store.put_alert(alert(PORT, "alert", NOW))
    web.store.flush()
    assert web.client.get("/api/v1/alerts").status_code == 401
    assert web.client.get("/api/v1/alerts", headers=bearer(READ_TOKEN)).status_code == 200
    assert web.client.post("/api/v1/alerts/1/ack").status_code == 401
    denied = web.client.post("/api/v1/alerts/1/ack", headers=bearer(READ_TOKEN))
    assert denied.status_code == 403 and denied.mimetype == PROBLEM
    assert acks(web) == []


def test_an_ack_the_writer_cannot_take_is_503(web: Any) -> None:
    web.store.close()  # a store that writes no more (as after a stop)
    answer = web.client.post("/api/v1/alerts/5/ack")
    assert answer.status_code == 503 and answer.mimetype == PROBLEM
    assert answer.headers["Retry-After"] == "5"
    assert acks(web) == []
