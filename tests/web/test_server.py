"""The server's frame: problem documents, tokens and scopes, the listening address, the
OpenAPI document's coverage of the routes."""

from __future__ import annotations

import re
from typing import Any

import pytest

from monitor.web import create_app
from monitor.web.serve import ListenError, check_allowed, parse_listen
from tests.support.web import READ_TOKEN, WRITE_TOKEN, bearer, write_config

PROBLEM = "application/problem+json"


def test_an_unknown_route_is_a_problem_document(make_web: Any) -> None:
    web = make_web()
    answer = web.client.get("/api/v1/no-such-thing")
    assert answer.status_code == 404
    assert answer.mimetype == PROBLEM
    assert answer.json["status"] == 404 and answer.json["title"] == "Not Found"


def test_a_method_not_taken_is_a_problem_document(make_web: Any) -> None:
    answer = make_web().client.delete("/api/v1/health")
    assert answer.status_code == 405 and answer.mimetype == PROBLEM
    assert "GET" in answer.headers["Allow"]


def test_without_tokens_every_call_is_allowed(make_web: Any) -> None:
    answer = make_web().client.get("/api/v1/health")
    assert answer.status_code == 200
    assert answer.json == {"status": "ok", "writerLag": 0.0, "configError": None}


@pytest.mark.parametrize("headers, detail", [
    ({}, "this server needs a token"),
    (bearer("x" * 20), "not one of the config's apiTokens"),
    ({"Authorization": "Basic dTpw"}, "must be \"Bearer TOKEN\""),
    ({"Authorization": "Bearer "}, "must be \"Bearer TOKEN\""),
])
def test_with_tokens_a_call_without_a_good_one_is_401(make_web: Any, headers: dict,
                                                      detail: str) -> None:
    answer = make_web(tokens=True).client.get("/api/v1/health", headers=headers)
    assert answer.status_code == 401 and answer.mimetype == PROBLEM
    assert detail in answer.json["detail"]
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert "x" * 20 not in answer.get_data(as_text=True)


@pytest.mark.parametrize("token", [READ_TOKEN, WRITE_TOKEN])
def test_a_token_of_either_scope_reads(make_web: Any, token: str) -> None:
    answer = make_web(tokens=True).client.get("/api/v1/health", headers=bearer(token))
    assert answer.status_code == 200


def test_public_read_lets_anonymous_clients_read_public_routes_only(make_web: Any) -> None:
    web = make_web(tokens=True, public_read=True)
    assert web.client.get("/api/v1/health").status_code == 200
    closed = make_web(tokens=True, public_read=False)
    assert closed.client.get("/api/v1/health").status_code == 401


def test_the_openapi_document_describes_every_api_route(make_web: Any) -> None:
    web = make_web()
    document = web.client.get("/api/v1/openapi.json").json
    assert document["openapi"] == "3.1.0"
    described = {(path, method) for path, item in document["paths"].items()
                 for method in item}
    routes = set()
    for rule in web.app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = rule.rule.removeprefix("/api/v1").replace("<", "{").replace(">", "}")
        path = re.sub(r"\{[a-z]+:", "{", path)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routes.add((path, method.lower()))
    assert routes - described == set()
    assert described - routes == set()


def test_every_api_route_says_who_may_call_it(make_web: Any) -> None:
    app = make_web().app
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "root.openapi_json":
            view = app.view_functions[rule.endpoint]
            # "token": the credential is in the path (a push monitor's token); "agent": an
            # agent's token, which opens the agent routes only.
            assert getattr(view, "scope", None) in ("public", "read", "write", "token",
                                                    "agent"), \
                rule.rule


@pytest.mark.parametrize("text, host, port, loopback", [
    ("127.0.0.1:8080", "127.0.0.1", 8080, True),
    ("[::1]:9000", "::1", 9000, True),
    (":8081", "127.0.0.1", 8081, True),
    ("8082", "127.0.0.1", 8082, True),
    ("localhost:1", "localhost", 1, True),
    ("0.0.0.0:8080", "0.0.0.0", 8080, False),
    ("example.org:80", "example.org", 80, False),
])
def test_listen_addresses(text: str, host: str, port: int, loopback: bool) -> None:
    address = parse_listen(text)
    assert (address.host, address.port, address.loopback) == (host, port, loopback)


@pytest.mark.parametrize("text", ["127.0.0.1:http", "127.0.0.1:70000", "a:-1"])
def test_a_bad_listen_address_is_refused(text: str) -> None:
    with pytest.raises(ListenError, match="give HOST:PORT"):
        parse_listen(text)


def test_beyond_loopback_only_with_tokens() -> None:
    with pytest.raises(ListenError, match="without apiTokens in config.json"):
        check_allowed(parse_listen("0.0.0.0:8080"), False, "config.json")
    check_allowed(parse_listen("0.0.0.0:8080"), True, "config.json")
    check_allowed(parse_listen("127.0.0.1:8080"), False, "config.json")


def test_an_unexpected_error_is_a_500_problem_without_secrets(make_web: Any) -> None:
    web = make_web()
    app = create_app(web.context)

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("a defect")

    answer = app.test_client().get("/boom")
    assert answer.status_code == 500 and answer.mimetype == PROBLEM
    assert "a defect" not in answer.get_data(as_text=True)


def test_beyond_loopback_a_config_reloaded_without_tokens_closes_the_api(make_web: Any,
                                                                        ) -> None:
    web = make_web(tokens=True)
    web.context.exposed = True  # started beyond loopback, with the tokens it had then
    assert web.client.get("/api/v1/health", headers=bearer(READ_TOKEN)).status_code == 200
    document = web.document()
    del document["apiTokens"]
    write_config(web.config_path, document)  # the tokens removed while it runs
    for headers in ({}, bearer(READ_TOKEN)):
        answer = web.client.get("/api/v1/health", headers=headers)
        assert answer.status_code == 503 and answer.mimetype == PROBLEM
        assert "no apiTokens now" in answer.json["detail"]
    assert web.client.get("/metrics").status_code == 503
