"""Maintenance on and off through the API, with the maintenance command's service, rules and
words: what is stored, what the list says, and each problem with nothing changed."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import pytest

from monitor.maintenance import START_DELAY
from monitor.store.api import iso_utc
from tests.support.db import reading
from tests.support.web import READ_TOKEN, WRITE_TOKEN, bearer

PROBLEM = "application/problem+json"
SHOP = "https://shop.example/"
DOCUMENT = {"plugins": ["tls"], "monitors": [
    {"URL": SHOP, "name": "shop",
     "maintenance": {"every": ["mon"], "at": "02:00", "for": "1h"}},
    {"type": "tcp", "host": "127.0.0.1", "port": 9, "name": "port"},
]}
PORT = "tcp:127.0.0.1:9"
NOW = float(int(time.time()))
SINCE = NOW + START_DELAY


def url(monitor_id: str) -> str:
    return f"/api/v1/monitors/{quote(monitor_id, safe='')}/maintenance"


@pytest.fixture()
def web(make_web: Any) -> Any:
    web = make_web(DOCUMENT)
    web.context.clock = lambda: NOW
    return web


def stored(web: Any) -> dict[str, tuple[float, float | None]]:
    with reading(web.db_path) as reader:
        return reader.maintenance()


def test_on_for_a_while_takes_the_plugged_monitors_and_says_so(web: Any) -> None:
    answer = web.client.post(url(SHOP), json={"for": "2h"})
    assert answer.status_code == 200
    until = iso_utc(SINCE + 7200)
    assert [c["message"] for c in answer.json["changes"]] == [
        f"shop: maintenance on until {until[:19]}Z", f"shop/tls: maintenance on until"
                                                     f" {until[:19]}Z"]
    assert answer.json["changes"][0] == {
        "monitor": SHOP, "label": "shop", "window": None,
        "maintenance": {"since": iso_utc(SINCE), "until": until},
        "message": f"shop: maintenance on until {until[:19]}Z"}
    assert stored(web) == {SHOP: (SINCE, SINCE + 7200), SHOP + "tls": (SINCE, SINCE + 7200)}


def test_on_until_a_time_or_until_taken_out(web: Any) -> None:
    answer = web.client.post(url(PORT), json={"until": iso_utc(NOW + 3600)})
    assert answer.json["changes"][0]["maintenance"]["until"] == iso_utc(NOW + 3600)
    assert stored(web) == {PORT: (SINCE, NOW + 3600)}
    answer = web.client.post(url(PORT), json={"until": NOW + 60})  # epoch seconds
    assert stored(web) == {PORT: (SINCE, NOW + 60)}
    answer = web.client.post(url(PORT))  # no body: until taken out
    assert answer.status_code == 200
    assert answer.json["changes"][0]["message"] == "port: maintenance on"
    assert stored(web) == {PORT: (SINCE, None)}
    assert web.client.post(url(PORT), json={}).status_code == 200


def test_off_and_the_list(web: Any) -> None:
    web.client.post(url(PORT), json={"for": 600})
    listed = web.client.get("/api/v1/maintenance").json["monitors"]
    assert [entry["monitor"] for entry in listed] == [SHOP, PORT, SHOP + "tls"]
    port = listed[1]
    assert port == {"monitor": PORT, "label": "port",
                    "byHand": {"since": iso_utc(SINCE), "until": iso_utc(SINCE + 600)},
                    "window": None, "windows": [],
                    "message": f"port: on since {iso_utc(SINCE)[:19]}Z until"
                               f" {iso_utc(SINCE + 600)[:19]}Z"}
    assert listed[0]["windows"] == ["mon at 02:00 UTC for 1h00m"]
    assert listed[0]["message"] == "shop: window mon at 02:00 UTC for 1h00m"
    answer = web.client.delete(url(PORT))
    assert answer.status_code == 200
    assert answer.json["changes"] == [{"monitor": PORT, "label": "port", "maintenance": None,
                                       "window": None, "message": "port: maintenance off"}]
    assert stored(web) == {}
    assert [e["monitor"] for e in web.client.get("/api/v1/maintenance").json["monitors"]] == [
        SHOP, SHOP + "tls"]


@pytest.mark.parametrize("body, pointer, detail", [
    ({"for": "2y"}, "/for", "for: '2y' is not a duration of up to a year: seconds, or a"
                            " number with s, m, h or d (90m, 2h)"),
    ({"for": 0}, "/for", "for: 0 is not a duration of up to a year"),
    ({"for": True}, "/for", "for: True is not a duration"),
    ({"until": "soon"}, "/until", "until: 'soon' is not a time: give ISO-8601"),
    ({"until": NOW - 1}, "/until", "is not in the future"),
    ({"until": NOW + 400 * 86400}, "/until", "is more than a year away"),
    ({"for": "1h", "until": NOW + 60}, "/until", "give \"for\" or \"until\", not both"),
    ({"from": "now"}, "/from", "unknown key 'from'"),
    (["for", "1h"], "", "the body must be a JSON object"),
])
def test_a_bad_body_is_422_and_changes_nothing(web: Any, body: Any, pointer: str,
                                               detail: str) -> None:
    answer = web.client.post(url(PORT), json=body)
    assert answer.status_code == 422 and answer.mimetype == PROBLEM
    assert answer.json["pointer"] == pointer and detail in answer.json["detail"]
    assert stored(web) == {}


def test_a_body_that_is_not_json_is_400(web: Any) -> None:
    answer = web.client.post(url(PORT), data="{for: 2h}", content_type="application/json")
    assert answer.status_code == 400 and answer.mimetype == PROBLEM
    assert stored(web) == {}


def test_a_monitor_not_in_the_config_is_404(web: Any) -> None:
    for method in (web.client.post, web.client.delete):
        answer = method(url("tcp:nowhere:1"))
        assert answer.status_code == 404
        assert answer.json["detail"] == "no monitor of the config has the id 'tcp:nowhere:1'"
    assert stored(web) == {}


def test_scopes(make_web: Any) -> None:
    web = make_web(DOCUMENT, tokens=True)
    assert web.client.get("/api/v1/maintenance").status_code == 401
    assert web.client.get("/api/v1/maintenance", headers=bearer(READ_TOKEN)).status_code == 200
    assert web.client.post(url(PORT), headers=bearer(READ_TOKEN)).status_code == 403
    assert web.client.delete(url(PORT), headers=bearer(READ_TOKEN)).status_code == 403
    assert web.client.post(url(PORT)).status_code == 401
    assert stored(web) == {}
    assert web.client.post(url(PORT), headers=bearer(WRITE_TOKEN)).status_code == 200


def test_a_store_that_writes_no_more_is_503(web: Any) -> None:
    web.store.close()
    answer = web.client.post(url(PORT), json={"for": "1h"})
    assert answer.status_code == 503 and answer.mimetype == PROBLEM


def test_an_oversized_body_is_413(web: Any) -> None:
    answer = web.client.post(url(PORT), data=b"{" + b" " * (1024 * 1024 + 1) + b"}",
                             content_type="application/json")
    assert answer.status_code == 413 and answer.mimetype == PROBLEM
    assert stored(web) == {}
