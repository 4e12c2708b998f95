"""Badges: a monitor's state, uptime and response time as SVG, public, over real stored
checks; text escaped; an unknown monitor a grey 404 badge."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from typing import Any
from urllib.parse import quote

import pytest

from monitor.core.model import CheckResult
from tests.support.web import READ_TOKEN, URL, bearer

ID = quote(URL, safe="")  # in a path, percent-encoded: an http monitor's id is its URL

SVG_NS = "{http://www.w3.org/2000/svg}"


def texts(answer: Any) -> list[str]:
    """The badge's words, as drawn (each twice in a flat badge: shadow and text)."""
    root = ET.fromstring(answer.get_data())
    return sorted({node.text for node in root.iter(f"{SVG_NS}text") if node.text})


def fill_of(answer: Any) -> set[str]:
    root = ET.fromstring(answer.get_data())
    return {node.get("fill", "") for node in root.iter(f"{SVG_NS}path")}


def checked(web: Any, *ups: bool | None) -> None:
    web.store.set_monitors(web.context.config.monitors)
    now = time.time() - len(ups)
    for i, up in enumerate(ups):
        web.store.put_check(CheckResult(URL, now + i, up, 200 if up else None, 12.0 + i,
                                        None if up or up is None else "connect"))
    assert web.store.flush()


def test_a_status_badge_says_the_state_in_its_colour(make_web: Any) -> None:
    web = make_web()
    checked(web, True)
    answer = web.client.get(f"/badge/{ID}/status.svg")
    assert answer.status_code == 200 and answer.mimetype == "image/svg+xml"
    assert texts(answer) == ["status", "up"]
    assert "#4c1" in fill_of(answer)
    assert answer.headers["Cache-Control"] == "max-age=30"
    checked(web, False)
    down = web.client.get(f"/badge/{ID}/status.svg")
    assert texts(down) == ["down", "status"] and "#e05d44" in fill_of(down)


def test_before_its_first_check_a_monitor_is_unknown(make_web: Any) -> None:
    answer = make_web().client.get(f"/badge/{ID}/status.svg")
    assert texts(answer) == ["status", "unknown"]


def test_an_uptime_badge_counts_the_days_asked_for(make_web: Any) -> None:
    web = make_web()
    checked(web, True, True, True, False)
    answer = web.client.get(f"/badge/{ID}/uptime.svg?days=7")
    assert answer.status_code == 200
    assert texts(answer) == ["75%", "uptime 7d"]
    assert "#e05d44" in fill_of(answer)  # below 90%


def test_an_uptime_badge_never_rounds_a_failure_to_100(make_web: Any) -> None:
    from monitor.web.badges import _percent

    assert _percent(0.99996) == "99.99%"
    assert _percent(1.0) == "100%" and _percent(0.5) == "50%" and _percent(0.9995) == "99.95%"


def test_without_checks_the_uptime_and_response_badges_say_no_data(make_web: Any) -> None:
    web = make_web()
    assert texts(web.client.get(f"/badge/{ID}/uptime.svg")) == ["no data", "uptime 30d"]
    assert texts(web.client.get(f"/badge/{ID}/response.svg")) == ["no data", "response"]


def test_a_response_badge_shows_the_latest_check_s_time(make_web: Any) -> None:
    web = make_web()
    checked(web, True, True)
    assert texts(web.client.get(f"/badge/{ID}/response.svg")) == ["13 ms", "response"]


def test_a_label_is_the_caller_s_escaped(make_web: Any) -> None:
    web = make_web()
    answer = web.client.get(f"/badge/{ID}/status.svg?label=<script>alert(1)</script>")
    body = answer.get_data(as_text=True)
    assert "<script>" not in body and "&lt;script&gt;" in body
    assert texts(answer)[0].startswith("<script>")  # the text, drawn as text


def test_an_unknown_monitor_is_a_grey_404_badge(make_web: Any) -> None:
    answer = make_web().client.get("/badge/nope/status.svg")
    assert answer.status_code == 404 and answer.mimetype == "image/svg+xml"
    assert texts(answer) == ["monitor", "not found"]


@pytest.mark.parametrize("days", ["0", "366", "x"])
def test_bad_days_are_a_400_problem(make_web: Any, days: str) -> None:
    answer = make_web().client.get(f"/badge/{ID}/uptime.svg?days={days}")
    assert answer.status_code == 400 and answer.json["parameter"] == "days"


def test_with_tokens_badges_are_public_only_with_public_read(make_web: Any) -> None:
    closed = make_web(tokens=True)
    assert closed.client.get(f"/badge/{ID}/status.svg").status_code == 401
    assert closed.client.get(f"/badge/{ID}/status.svg",
                             headers=bearer(READ_TOKEN)).status_code == 200
    opened = make_web(tokens=True, public_read=True)
    assert opened.client.get(f"/badge/{ID}/status.svg").status_code == 200


def test_a_monitor_whose_url_ends_as_a_page_does_has_its_badge(make_web: Any) -> None:
    web = make_web({"monitors": [{"URL": "https://wiki.example/edit"}]})
    answer = web.client.get("/badge/https://wiki.example/edit/status.svg")
    assert answer.status_code == 200 and texts(answer) == ["status", "unknown"]
