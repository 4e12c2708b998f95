"""Logins: a token starts a session cookie (HttpOnly, SameSite=Strict), the session reads
and changes through the API with its CSRF token, failed logins are slowed per client, a
token removed from the config ends its sessions, and forms without the CSRF token are
refused. Through Flask's test client over real files; then once in a real browser."""

from __future__ import annotations

import re
from typing import Any

from monitor.web import session
from tests.support.browser import READ_TOKEN, WRITE_TOKEN, Site, log_in
from tests.support.web import TOKENS, URL, write_config
from tests.support.web import WRITE_TOKEN as API_WRITE

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def _csrf(client: Any, path: str = "/login") -> str:
    found = CSRF.search(client.get(path).get_data(as_text=True))
    assert found, "the page carries no CSRF token"
    return found.group(1)


def _login(client: Any, token: str = API_WRITE, csrf: str | None = None) -> Any:
    csrf = csrf if csrf is not None else _csrf(client)
    return client.post("/login", data={"token": token, "csrf": csrf, "next": "/x"})


def test_a_good_token_starts_a_strict_httponly_session(make_web: Any) -> None:
    web = make_web(tokens=True)
    answer = _login(web.client)
    assert answer.status_code == 302 and answer.headers["Location"] == "/x"
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith(f"{session.COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert "Secure" not in cookie  # plain http on loopback; Secure over TLS
    assert API_WRITE not in cookie
    # The session reads the API without a bearer token.
    assert web.client.get("/api/v1/monitors").status_code == 200


def test_the_cookie_is_secure_over_tls(make_web: Any) -> None:
    web = make_web(tokens=True)
    csrf = CSRF.search(web.client.get("/login", base_url="https://localhost").get_data(
        as_text=True)).group(1)  # type: ignore[union-attr]
    answer = web.client.post("/login", base_url="https://localhost",
                             data={"token": API_WRITE, "csrf": csrf},
                             headers={"Origin": "https://localhost"})
    assert answer.status_code == 302
    assert "Secure" in answer.headers["Set-Cookie"]


def test_without_a_session_the_api_asks_for_a_token(make_web: Any) -> None:
    web = make_web(tokens=True)
    assert web.client.get("/api/v1/monitors").status_code == 401


def test_a_wrong_token_is_refused_and_repeated_failures_slow_the_client(make_web: Any,
                                                                       ) -> None:
    web = make_web(tokens=True)
    now = [1000.0]
    web.app.extensions[session.THROTTLE] = session.Throttle(lambda: now[0])
    csrf = _csrf(web.client)
    for _ in range(session.FREE_FAILURES):
        answer = _login(web.client, "x" * 20, csrf)
        assert answer.status_code == 401
        assert "not one of the apiTokens of this server" in answer.get_data(as_text=True)
    # Now slowed: an attempt within the wait is refused, even a good token, unread.
    answer = _login(web.client, API_WRITE, csrf)
    assert answer.status_code == 429
    assert int(answer.headers["Retry-After"]) == 1
    assert "try again in 1 s" in answer.get_data(as_text=True)
    now[0] += session.FIRST_WAIT
    assert _login(web.client, "y" * 20, csrf).status_code == 401
    answer = _login(web.client, API_WRITE, csrf)
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) == 2
    now[0] += 2 * session.FIRST_WAIT
    assert _login(web.client, API_WRITE, csrf).status_code == 302


def test_the_wait_doubles_per_failure_up_to_a_ceiling() -> None:
    now = [0.0]
    throttle = session.Throttle(lambda: now[0])
    waits = []
    for _ in range(session.FREE_FAILURES + 12):
        waits.append(throttle.wait("a"))
        throttle.failed("a")
    assert waits[:session.FREE_FAILURES] == [0.0] * session.FREE_FAILURES
    assert waits[session.FREE_FAILURES:session.FREE_FAILURES + 3] == [1.0, 2.0, 4.0]
    assert max(waits) == session.MAX_WAIT
    assert throttle.wait("b") == 0.0  # another client is not slowed
    throttle.passed("a")
    assert throttle.wait("a") == 0.0


def test_a_login_form_without_its_csrf_token_is_refused(make_web: Any) -> None:
    web = make_web(tokens=True)
    _csrf(web.client)  # a session with a token exists; the form does not send it
    answer = web.client.post("/login", data={"token": API_WRITE})
    assert answer.status_code == 403
    assert "CSRF" in answer.get_data(as_text=True)
    assert answer.mimetype == "text/html"
    assert _login(web.client, API_WRITE, "forged").status_code == 403


def test_an_api_change_with_the_session_needs_the_csrf_header(make_web: Any) -> None:
    web = make_web(tokens=True)
    csrf = _csrf(web.client)
    assert _login(web.client, API_WRITE, csrf).status_code == 302
    csrf = _csrf(web.client)  # the login made a new one
    refused = web.client.post("/api/v1/monitors/" + URL + "/pause")
    assert refused.status_code == 403 and "X-CSRF-Token" in refused.get_json()["detail"]
    done = web.client.post("/api/v1/monitors/" + URL + "/pause",
                           headers={"X-CSRF-Token": csrf, "If-Match": "*"})
    assert done.status_code in (200, 204), done.get_data(as_text=True)
    assert web.document()["monitors"][0]["paused"] is True


def test_a_change_from_another_sites_page_is_refused_even_without_tokens(make_web: Any,
                                                                        ) -> None:
    web = make_web()
    answer = web.client.post("/api/v1/monitors/" + URL + "/pause",
                             headers={"Origin": "http://evil.example", "If-Match": "*"})
    assert answer.status_code == 403
    assert "paused" not in web.document()["monitors"][0]


def test_a_read_session_cannot_change(make_web: Any) -> None:
    web = make_web(tokens=True)
    read = next(t["token"] for t in TOKENS if t["scope"] == "read")
    assert _login(web.client, read).status_code == 302
    csrf = _csrf(web.client)
    answer = web.client.post("/api/v1/monitors/" + URL + "/pause",
                             headers={"X-CSRF-Token": csrf, "If-Match": "*"})
    assert answer.status_code == 403 and "read scope" in answer.get_json()["detail"]


def test_a_token_removed_from_the_config_ends_its_sessions(make_web: Any) -> None:
    web = make_web(tokens=True)
    assert _login(web.client).status_code == 302
    assert web.client.get("/api/v1/monitors").status_code == 200
    document = web.document()
    document["apiTokens"] = [t for t in TOKENS if t["scope"] == "read"]
    write_config(web.config_path, document)
    assert web.client.get("/api/v1/monitors").status_code == 401


def test_logout_ends_the_session_even_for_a_copy_of_its_cookie(make_web: Any) -> None:
    web = make_web(tokens=True)
    assert _login(web.client).status_code == 302
    copy = web.client.get_cookie(session.COOKIE).value  # type: ignore[union-attr]
    other = web.app.test_client()  # another browser, holding a copy of the cookie
    other.set_cookie(session.COOKIE, copy)
    assert other.get("/api/v1/monitors").status_code == 200
    csrf = _csrf(web.client)
    answer = web.client.post("/logout", data={"csrf": csrf})
    assert answer.status_code == 302 and answer.headers["Location"] == "/login"
    assert web.client.get("/api/v1/monitors").status_code == 401
    assert other.get("/api/v1/monitors").status_code == 401
    # Kept beside the database, owner-only: serve and -m --web share it, a restart keeps it.
    kept = web.db_path.with_name(web.db_path.name + session.LOGOUTS_SUFFIX)
    assert kept.stat().st_mode & 0o777 == 0o600
    again = session.Logouts(kept, web.context.clock)
    assert again.ended(kept.read_text().split()[0])


def test_a_logout_ends_only_that_session(make_web: Any) -> None:
    web = make_web(tokens=True)
    assert _login(web.client).status_code == 302
    elsewhere = web.app.test_client()
    assert _login(elsewhere).status_code == 302
    web.client.post("/logout", data={"csrf": _csrf(web.client)})
    assert elsewhere.get("/api/v1/monitors").status_code == 200


def test_logouts_expire_with_the_sessions_they_ended(tmp_path: Any) -> None:
    now = [1000.0]
    logouts = session.Logouts(tmp_path / "x.web-logouts", lambda: now[0])
    logouts.end("abc")
    assert logouts.ended("abc") and not logouts.ended("def")
    now[0] += session.LIFETIME.total_seconds() + 1
    assert not session.Logouts(tmp_path / "x.web-logouts", lambda: now[0]).ended("abc")


def test_wrong_bearer_tokens_are_slowed_as_failed_logins_are(make_web: Any) -> None:
    web = make_web(tokens=True)
    now = [1000.0]
    web.app.extensions[session.THROTTLE] = session.Throttle(lambda: now[0])
    wrong = {"Authorization": "Bearer " + "x" * 20}
    for _ in range(session.FREE_FAILURES):
        assert web.client.get("/api/v1/monitors", headers=wrong).status_code == 401
    answer = web.client.get("/api/v1/monitors", headers={"Authorization": f"Bearer {API_WRITE}"})
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "1"
    assert answer.get_json()["status"] == 429
    now[0] += session.FIRST_WAIT
    good = web.client.get("/api/v1/monitors", headers={"Authorization": f"Bearer {API_WRITE}"})
    assert good.status_code == 200


def test_next_never_leads_off_this_server(make_web: Any) -> None:
    web = make_web(tokens=True)
    csrf = _csrf(web.client)
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example",
                   "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example",
                   "/ /evil.example", "http:/evil.example"):
        answer = web.client.post("/login", data={"token": API_WRITE, "csrf": csrf,
                                                 "next": target})
        assert answer.headers["Location"] == "/", target
        csrf = _csrf(web.client)


def test_pages_carry_a_policy_that_allows_no_inline_script(make_web: Any) -> None:
    answer = make_web(tokens=True).client.get("/login")
    policy = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "<script>" not in answer.get_data(as_text=True)
    assert answer.headers["X-Frame-Options"] == "DENY"


def test_without_tokens_the_login_page_sends_the_visitor_on(make_web: Any) -> None:
    web = make_web()
    answer = web.client.get("/login?next=/monitors")
    assert answer.status_code == 302 and answer.headers["Location"] == "/monitors"
    answer = web.client.get("/login?next=/%09/evil.example")
    assert answer.headers["Location"] == "/"


def test_login_in_a_real_browser(make_site: Any, page: Any) -> None:
    site: Site = make_site({"monitors": [{"URL": URL}]}, tokens=True)
    page.goto(f"{site.url}login")
    page.fill("#token", "z" * 20)
    page.click("#login-submit")
    page.console.allow("status of 401")  # the browser logs the page's own 401
    assert "not one of the apiTokens of this server" in page.inner_text("#login-error")
    assert page.get_attribute("#token", "aria-invalid") == "true"
    log_in(page, site, READ_TOKEN, then="/login")
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies[session.COOKIE]["httpOnly"] is True
    assert cookies[session.COOKIE]["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # not readable by scripts
    answer = page.request.get(f"{site.url}api/v1/monitors")
    assert answer.status == 200 and answer.json()["total"] == 1
    assert WRITE_TOKEN not in page.content()


def test_without_tokens_only_loopback_names_are_answered(make_web: Any) -> None:
    # A page whose name was re-pointed at 127.0.0.1 (DNS rebinding) must not read or change.
    web = make_web()
    for host in ("localhost", "127.0.0.1:8080", "[::1]:8080", "app.localhost:80",
                 "127.1.2.3"):
        assert web.client.get("/api/v1/monitors", headers={"Host": host}).status_code \
            == 200, host
    for host in ("evil.example:8080", "evil.example", "10.0.0.1:8080", "localhost.evil"):
        answer = web.client.get("/api/v1/monitors", headers={"Host": host})
        assert answer.status_code == 403, host
        assert "loopback name" in answer.get_json()["detail"]


def test_with_tokens_any_host_is_answered(make_web: Any) -> None:
    web = make_web(tokens=True)
    answer = web.client.get("/api/v1/monitors", headers={"Host": "status.example.com",
                                                         "Authorization": f"Bearer {API_WRITE}"})
    assert answer.status_code == 200
