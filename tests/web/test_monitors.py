"""The monitors' routes through Flask's test client over a real config file and database:
list (filters, paging, state), get, create, replace, patch, delete, pause, resume, and
every refusal (scope, If-Match, bad JSON, invalid config, unknown id, clash) as a problem
document with nothing changed."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import quote

import pytest

from monitor.config.schema import config_schema
from monitor.core.model import CheckResult
from tests.support.web import READ_TOKEN, WRITE_TOKEN, bearer

PROBLEM = "application/problem+json"
SHOP = "https://shop.example/"
BLOG = "https://user:hunter22@blog.example/"
BLOG_ID = "https://user:***@blog.example/"
PORT = "tcp:127.0.0.1:9"
DOCUMENT = {"monitors": [
    {"URL": SHOP, "name": "shop", "tags": ["web", "prod"], "plugins": ["tls"]},
    {"URL": BLOG, "name": "blog", "tags": ["web"], "checkInterval": 30},
    {"type": "tcp", "host": "127.0.0.1", "port": 9, "name": "port", "paused": True},
]}


def path(monitor_id: str, action: str = "") -> str:
    return f"/api/v1/monitors/{quote(monitor_id, safe='')}" + (f"/{action}" if action else "")


def etag_of(web: Any) -> str:
    return '"' + hashlib.sha256(web.config_path.read_bytes()).hexdigest() + '"'


@pytest.fixture()
def web(make_web: Any) -> Any:
    return make_web(DOCUMENT, tokens=True)


def get(web: Any, url: str, token: str = READ_TOKEN) -> Any:
    return web.client.get(url, headers=bearer(token))


def send(web: Any, method: str, url: str, body: Any = None, etag: str | None = "current",
         token: str = WRITE_TOKEN, **kwargs: Any) -> Any:
    headers = bearer(token)
    if etag is not None:
        headers["If-Match"] = etag_of(web) if etag == "current" else etag
    if body is not None:
        kwargs["json"] = body
    return web.client.open(url, method=method, headers=headers, **kwargs)


def unchanged(web: Any, before: bytes) -> None:
    assert web.config_path.read_bytes() == before
    assert not (web.config_path.parent / "config.json.bak").exists()


# -- reading ----------------------------------------------------------------------------------

def test_the_list_has_every_monitor_with_its_state_and_the_files_etag(web: Any) -> None:
    now = 1_800_000_000.0
    web.store.set_monitors(web.context.config.monitors)  # as the -m beside does
    web.store.put_check(CheckResult(SHOP, now, True, 200, 12.5))
    web.store.put_check(CheckResult(BLOG_ID, now, False, None, 30.0, "connect", "refused"))
    web.store.flush()
    answer = get(web, "/api/v1/monitors")
    assert answer.status_code == 200
    assert answer.headers["ETag"] == etag_of(web)
    body = answer.json
    assert body["total"] == 4 and body["nextCursor"] is None
    shop, blog, port, tls = body["monitors"]
    assert shop == {"id": SHOP, "name": "shop", "kind": "http", "target": SHOP,
                    "interval": 2.0, "tags": ["web", "prod"], "paused": False, "state": "up",
                    "lastCheck": "2027-01-15T08:00:00.000Z", "lastResponseTime": 12.5,
                    "lastReason": None, "parent": None}
    assert (blog["target"], blog["state"], blog["lastReason"]) == (BLOG_ID, "down", "connect")
    assert (port["state"], port["paused"]) == ("paused", True)
    assert (tls["id"], tls["parent"], tls["state"]) == (SHOP + "tls", SHOP, "unknown")
    assert "hunter22" not in answer.get_data(as_text=True)


def test_a_monitor_with_unknown_checks_alone_is_unknown_and_never_checked(web: Any) -> None:
    # A push monitor before its first push, a metric with no value: their checks are unknown.
    web.store.set_monitors(web.context.config.monitors)
    web.store.put_check(CheckResult(SHOP, 1_800_000_000.0, None, None, 0.0, "new", "no push"))
    web.store.flush()
    shop = get(web, "/api/v1/monitors").json["monitors"][0]
    assert (shop["id"], shop["state"], shop["lastCheck"]) == (SHOP, "unknown", None)


@pytest.mark.parametrize(("query", "ids"), [
    ("kind=tcp", [PORT]),
    ("kind=tls", [SHOP + "tls"]),
    ("tag=web", [SHOP, BLOG_ID, SHOP + "tls"]),  # a site's plugged monitors have its tags
    ("tag=prod", [SHOP, SHOP + "tls"]),
    ("tag=none", []),
    ("state=paused", [PORT]),
    ("state=unknown", [SHOP, BLOG_ID, SHOP + "tls"]),
    ("kind=http&tag=web&state=unknown", [SHOP, BLOG_ID]),
])
def test_filters(web: Any, query: str, ids: list[str]) -> None:
    answer = get(web, f"/api/v1/monitors?{query}")
    assert answer.status_code == 200
    assert [item["id"] for item in answer.json["monitors"]] == ids
    assert answer.json["total"] == len(ids)


def test_pages_by_cursor_and_by_offset(web: Any) -> None:
    seen, url = [], "/api/v1/monitors?limit=3"
    while True:
        body = get(web, url).json
        seen += [item["id"] for item in body["monitors"]]
        if body["nextCursor"] is None:
            break
        url = f"/api/v1/monitors?limit=3&cursor={body['nextCursor']}"
    assert seen == [SHOP, BLOG_ID, PORT, SHOP + "tls"]
    body = get(web, "/api/v1/monitors?limit=2&offset=1").json
    assert [item["id"] for item in body["monitors"]] == [BLOG_ID, PORT]
    # A cursor stays after its monitor when the list changes before it.
    first = get(web, "/api/v1/monitors?limit=2").json
    assert send(web, "DELETE", path(SHOP)).status_code == 204
    rest = get(web, f"/api/v1/monitors?limit=2&cursor={first['nextCursor']}").json
    assert [item["id"] for item in rest["monitors"]] == [PORT]


@pytest.mark.parametrize(("query", "parameter"), [
    ("limit=0", "limit"), ("limit=10001", "limit"), ("limit=x", "limit"),
    ("offset=-1", "offset"), ("state=sleepy", "state"), ("kind=ping", "kind"),
    ("cursor=!!", "cursor"), ("cursor=bm90IGpzb24", "cursor"), ("cursor=x&offset=1", "offset"),
])
def test_a_bad_parameter_is_a_400_naming_it(web: Any, query: str, parameter: str) -> None:
    answer = get(web, f"/api/v1/monitors?{query}")
    assert answer.status_code == 400
    assert answer.content_type == PROBLEM
    assert answer.json["parameter"] == parameter


def test_get_one_with_its_config_entry_masked(web: Any) -> None:
    answer = get(web, path(BLOG_ID))
    assert answer.status_code == 200
    assert answer.headers["ETag"] == etag_of(web)
    assert answer.json["config"] == {"URL": BLOG_ID, "name": "blog", "tags": ["web"],
                                     "checkInterval": 30}
    assert answer.json["id"] == BLOG_ID
    plugged = get(web, path(SHOP + "tls")).json
    assert (plugged["config"], plugged["parent"]) == (None, SHOP)
    missing = get(web, path("https://nope.example/"))
    assert (missing.status_code, missing.content_type) == (404, PROBLEM)
    assert missing.json["detail"] == ("no monitor of the config has the id"
                                      " 'https://nope.example/'")


def test_the_config_schema_is_served_to_any_token(web: Any) -> None:
    answer = get(web, "/api/v1/schema.json")
    assert answer.status_code == 200
    assert answer.json == json.loads(json.dumps(config_schema()))
    assert web.client.get("/api/v1/schema.json").status_code == 401


def test_with_public_read_the_schema_needs_no_token(make_web: Any) -> None:
    web = make_web(DOCUMENT, tokens=True, public_read=True)
    assert web.client.get("/api/v1/schema.json").status_code == 200
    assert web.client.get("/api/v1/monitors").status_code == 401


# -- writing --------------------------------------------------------------------------------

def test_create_writes_the_file_and_answers_201_with_location_and_etag(web: Any) -> None:
    answer = send(web, "POST", "/api/v1/monitors", {
        "type": "tcp", "host": "127.0.0.1", "port": 25, "name": "smtp", "tags": ["mail"]})
    assert answer.status_code == 201, answer.json
    assert answer.headers["Location"] == "/api/v1/monitors/tcp%3A127.0.0.1%3A25"
    assert answer.headers["ETag"] == etag_of(web)
    assert answer.json["id"] == "tcp:127.0.0.1:25"
    assert answer.json["config"]["name"] == "smtp"
    assert web.document()["monitors"][-1] == {"type": "tcp", "host": "127.0.0.1", "port": 25,
                                              "name": "smtp", "tags": ["mail"]}
    assert (web.config_path.parent / "config.json.bak").exists()
    # Applied live: the server's config has it at once.
    assert "tcp:127.0.0.1:25" in [m.id for m in web.context.config.monitors]
    assert get(web, answer.headers["Location"]).status_code == 200


def test_replace_patch_pause_resume_delete(web: Any) -> None:
    answer = send(web, "PUT", path(PORT), {"type": "tcp", "host": "127.0.0.1", "port": 9,
                                            "name": "discard"})
    assert answer.status_code == 200
    assert (answer.json["name"], answer.json["paused"]) == ("discard", False)
    answer = web.client.patch(path(PORT), data=json.dumps({"name": None, "tags": ["x"]}),
                              content_type="application/merge-patch+json",
                              headers={**bearer(WRITE_TOKEN), "If-Match": etag_of(web)})
    assert answer.status_code == 200
    assert answer.json["config"] == {"type": "tcp", "host": "127.0.0.1", "port": 9,
                                     "tags": ["x"]}
    answer = send(web, "POST", path(PORT, "pause"))
    assert (answer.status_code, answer.json["state"], answer.json["paused"]) == (
        200, "paused", True)
    assert web.document()["monitors"][2]["paused"] is True
    answer = send(web, "POST", path(PORT, "resume"))
    assert (answer.status_code, answer.json["paused"]) == (200, False)
    assert "paused" not in web.document()["monitors"][2]
    answer = send(web, "DELETE", path(PORT))
    assert (answer.status_code, answer.get_data()) == (204, b"")
    assert answer.headers["ETag"] == etag_of(web)
    assert [m.get("name") for m in web.document()["monitors"]] == ["shop", "blog"]


def test_a_masked_secret_sent_back_keeps_the_stored_one(web: Any) -> None:
    shown = get(web, path(BLOG_ID)).json["config"]
    answer = send(web, "PUT", path(BLOG_ID), {**shown, "name": "the blog"})
    assert answer.status_code == 200
    assert web.document()["monitors"][1]["URL"] == BLOG
    assert "hunter22" not in answer.get_data(as_text=True)


def test_if_match_star_takes_the_file_as_it_is(web: Any) -> None:
    answer = send(web, "POST", path(PORT, "resume"), etag="*")
    assert answer.status_code == 200


def test_a_var_reference_stays_one(make_web: Any, monkeypatch) -> None:
    monkeypatch.setenv("SHOP_KEY", "k" * 12)
    web = make_web({"monitors": [{"URL": SHOP, "headers": {"X-Api-Key": "${SHOP_KEY}"}}]},
                   tokens=True)
    assert get(web, path(SHOP)).json["config"]["headers"] == {"X-Api-Key": "${SHOP_KEY}"}
    answer = send(web, "PATCH", path(SHOP), {"name": "shop"})
    assert answer.status_code == 200
    assert web.document()["monitors"][0]["headers"] == {"X-Api-Key": "${SHOP_KEY}"}
    assert "k" * 12 not in web.config_path.read_text()


# -- refusals: a problem document, and nothing changed ------------------------------------

@pytest.mark.parametrize(("method", "action"), [
    ("POST", ""), ("PUT", PORT), ("PATCH", PORT), ("DELETE", PORT), ("POST", "pause"),
    ("POST", "resume")])
def test_every_write_needs_the_write_scope_and_if_match(web: Any, method: str,
                                                        action: str) -> None:
    url = ("/api/v1/monitors" if action == "" else
           path(PORT, action) if action in ("pause", "resume") else path(action))
    body = None if method in ("DELETE", "POST") and action else {"URL": "https://n.example/"}
    before = web.config_path.read_bytes()
    for token, status in ((READ_TOKEN, 403), ("x" * 20, 401)):
        answer = send(web, method, url, body, token=token)
        assert (answer.status_code, answer.content_type) == (status, PROBLEM)
    answer = web.client.open(url, method=method, json=body)
    assert answer.status_code == 401
    for etag in (None, ""):
        answer = send(web, method, url, body, etag=etag)
        assert (answer.status_code, answer.content_type) == (428, PROBLEM)
        assert "If-Match" in answer.json["detail"]
    answer = send(web, method, url, body, etag='"0123"')
    assert (answer.status_code, answer.content_type) == (412, PROBLEM)
    assert answer.headers["ETag"] == etag_of(web)
    answer = send(web, method, url, body, etag=f'W/{etag_of(web)}')  # weak: never a match
    assert answer.status_code == 412
    unchanged(web, before)


def test_an_edit_of_the_file_since_the_get_is_412(web: Any) -> None:
    etag = get(web, "/api/v1/monitors").headers["ETag"]
    document = json.loads(web.config_path.read_text())
    document["monitors"][0]["name"] = "edited by hand"
    web.config_path.write_text(json.dumps(document))
    before = web.config_path.read_bytes()
    answer = send(web, "PATCH", path(SHOP), {"name": "from the API"}, etag=etag)
    assert answer.status_code == 412
    assert answer.json["detail"].startswith("config.json has changed since it was read")
    assert web.config_path.read_bytes() == before


def test_invalid_is_422_with_the_loaders_message_and_the_fields_pointer(web: Any) -> None:
    before = web.config_path.read_bytes()
    answer = send(web, "PATCH", path(BLOG_ID), {"checkInterval": 0})
    assert (answer.status_code, answer.content_type) == (422, PROBLEM)
    assert answer.json["detail"] == (
        f"{web.config_path}: monitors[1].checkInterval: must be a duration greater than 0:"
        ' a number of seconds, or a number with s, m, h or d ("90s", "5m", "1h", "7d")')
    assert answer.json["pointer"] == "/checkInterval"
    assert answer.json["configPath"] == "monitors[1].checkInterval"
    answer = send(web, "POST", "/api/v1/monitors", {"URL": "https://n.example/", "colour": 1})
    assert (answer.status_code, answer.json["pointer"]) == (422, "/colour")
    assert answer.json["detail"].endswith("monitors[3].colour: unknown key")
    answer = send(web, "POST", "/api/v1/monitors", ["not", "an", "object"], etag='"old"')
    assert (answer.status_code, answer.json["pointer"]) == (422, "")  # before If-Match
    answer = send(web, "PUT", path(SHOP), {"type": "tcp", "host": "h"})
    assert (answer.status_code, answer.json["pointer"]) == (422, "/port")
    unchanged(web, before)


@pytest.mark.parametrize("body", [b'{"URL": ', b"\xff\xfe", b'{"a": 1, "a": 2}'])
def test_bad_json_is_400(web: Any, body: bytes) -> None:
    before = web.config_path.read_bytes()
    answer = web.client.post("/api/v1/monitors", data=body, content_type="application/json",
                             headers={**bearer(WRITE_TOKEN), "If-Match": etag_of(web)})
    assert (answer.status_code, answer.content_type) == (400, PROBLEM)
    unchanged(web, before)


def test_an_oversized_body_is_413(web: Any) -> None:
    before = web.config_path.read_bytes()
    answer = send(web, "POST", "/api/v1/monitors", {"URL": SHOP, "name": "x" * 2_000_000})
    assert (answer.status_code, answer.content_type) == (413, PROBLEM)
    unchanged(web, before)


def test_unknown_ids_are_404(web: Any) -> None:
    before = web.config_path.read_bytes()
    for method, url, body in (("PUT", path("nope"), {"URL": SHOP}),
                              ("PATCH", path("nope"), {"name": "x"}),
                              ("DELETE", path("nope"), None),
                              ("POST", path("nope", "pause"), None),
                              ("POST", path("nope", "resume"), None)):
        answer = send(web, method, url, body)
        assert (answer.status_code, answer.content_type) == (404, PROBLEM), (method, url)
        assert answer.json["detail"] == "no monitor 'nope' in config.json"
    unchanged(web, before)


def test_an_id_clash_and_a_plugged_monitor_are_409(web: Any) -> None:
    before = web.config_path.read_bytes()
    answer = send(web, "POST", "/api/v1/monitors", {"URL": SHOP, "name": "again"})
    assert (answer.status_code, answer.content_type) == (409, PROBLEM)
    assert answer.json["detail"] == (f"the monitor {SHOP!r} exists (monitors[0]): give this"
                                     ' one another "id"')
    answer = send(web, "PATCH", path(PORT), {"id": SHOP})
    assert answer.status_code == 409
    answer = send(web, "DELETE", path(SHOP + "tls"))
    assert answer.status_code == 409
    assert "made by the plugins of" in answer.json["detail"]
    unchanged(web, before)


def test_a_file_made_invalid_by_hand_refuses_edits_and_lists_the_last_good(web: Any) -> None:
    web.context.config  # noqa: B018 - read once, as a running server has
    web.config_path.write_text('{"monitors": [{"URL": "ftp://x/"}]}')
    before = web.config_path.read_bytes()
    listed = get(web, "/api/v1/monitors")
    assert listed.status_code == 200
    assert listed.json["total"] == 4  # the last good config
    one = get(web, path(SHOP))
    assert (one.status_code, one.json["config"]) == (200, None)
    answer = send(web, "POST", "/api/v1/monitors", {"URL": "https://n.example/"})
    assert answer.status_code == 422
    assert answer.json["detail"].endswith("(fix the file first)")
    assert web.config_path.read_bytes() == before


def test_the_routes_below_a_monitor_are_not_taken_for_its_id(web: Any) -> None:
    # `/monitors/{id}` takes ids with slashes (an http monitor's is its URL): the routes of
    # other resources below a monitor still answer as themselves.
    checks = get(web, path(SHOP, "checks"))
    assert (checks.status_code, checks.json["monitor"]) == (200, SHOP)
    before = web.config_path.read_bytes()
    answer = web.client.delete(path(PORT, "maintenance"), headers=bearer(WRITE_TOKEN))
    assert answer.status_code == 200
    assert web.config_path.read_bytes() == before


def test_a_monitor_whose_url_ends_as_a_page_does_is_named_in_the_api(make_web: Any) -> None:
    # /edit and /delete are pages' routes below a monitor, not the API's: an id may end so.
    wiki = "https://wiki.example/edit"
    web = make_web({"monitors": [{"URL": wiki}, {"URL": "https://wiki.example/delete"}]},
                   tokens=True)
    one = get(web, f"/api/v1/monitors/{wiki}")
    assert (one.status_code, one.json["id"]) == (200, wiki)
    assert get(web, path(wiki)).json["id"] == wiki
    assert get(web, f"/api/v1/monitors/{wiki}/stats").status_code == 200
    assert get(web, path("https://wiki.example/delete", "checks")).json["monitor"] == \
        "https://wiki.example/delete"
