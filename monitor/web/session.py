"""Logins for the web pages: an API token typed once starts a session cookie.

The cookie is Flask's signed session (HttpOnly, SameSite=Strict, Secure over TLS), signed
with a key derived from the owner-only key file beside the database, so `serve` and
`-m --web` on one database, and a restart, keep their visitors logged in. It holds the
token's name and a fingerprint of the token, never the token: a token removed from
`apiTokens` (or changed) ends every session it started at the next request. Every session,
logged in or not, carries a CSRF token that every form and every change the pages' scripts
make must send back.

A logout is kept on the server too (an owner-only file beside the database, shared by
`serve` and `-m --web`): a copy of the cookie taken before is refused after it, until it
would have expired anyway.

Failed logins are slowed per client: after a few, each next attempt must wait longer
(doubling to a ceiling), and one that comes sooner is refused without the token being
looked at. Refused rather than delayed: a sleeping request would hold one of the server's
few threads, and a guesser could hold them all.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, Request, current_app, request, session
from flask.sessions import SecureCookieSessionInterface

from monitor.checks.push.tokens import PushKeyError, load_key
from monitor.config.web import ApiToken
from monitor.web.context import WebContext, current

COOKIE = "monitor_session"
LIFETIME = timedelta(hours=12)
CSRF_FIELD = "csrf"  # the hidden field of every form
CSRF_HEADER = "X-CSRF-Token"  # what the pages' scripts send with a change
FREE_FAILURES = 3  # failed logins a client may make before it is slowed
FIRST_WAIT, MAX_WAIT = 1.0, 300.0  # seconds before the next attempt, doubling per failure
MAX_CLIENTS = 10_000  # clients remembered; the oldest forgotten first
THROTTLE = "monitor.login-throttle"  # the app's Throttle, in app.extensions
LOGOUTS = "monitor.logouts"  # the app's Logouts
LOGOUTS_SUFFIX = ".web-logouts"  # beside the database


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, Secure when the request came over TLS (directly or
    through a proxy waitress trusts), so the same server works on plain loopback. The key
    is read (or made) at the first request: an app built only to list its routes makes no
    file."""

    def __init__(self, context: WebContext) -> None:
        self._context = context
        self._lock = threading.Lock()

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(request.is_secure)

    def get_signing_serializer(self, app: Flask) -> Any:
        if app.secret_key is None:
            with self._lock:
                if app.secret_key is None:
                    app.secret_key = _secret(self._context)
        return super().get_signing_serializer(app)


def install(app: Flask, context: WebContext) -> None:
    app.session_interface = CookieSessions(context)
    app.config.update(SESSION_COOKIE_NAME=COOKIE, SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Strict", PERMANENT_SESSION_LIFETIME=LIFETIME,
                      SESSION_REFRESH_EACH_REQUEST=False)


def _secret(context: WebContext) -> bytes:
    try:
        key = load_key(context.db_path)
    except PushKeyError as exc:
        # No key file (a read-only folder): sessions last as long as this process.
        context.warn(f"Warning: {exc}; web logins end when this server stops")
        key = secrets.token_bytes(32)
    return hmac.new(key, b"web session cookies", hashlib.sha256).digest()


def fingerprint(token: ApiToken) -> str:
    """What the cookie keeps of a token: enough to tell it changed, useless to log in."""
    return hashlib.sha256(b"session:" + token.token.encode("utf-8")).hexdigest()[:32]


def csrf_token() -> str:
    """This session's CSRF token, made at its first use."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(24)
        session[CSRF_FIELD] = token
        session.permanent = True
    return token


def csrf_valid(given: str | None) -> bool:
    expected = session.get(CSRF_FIELD)
    return (isinstance(expected, str) and isinstance(given, str)
            and hmac.compare_digest(expected.encode(), given.encode()))


def user(tokens: tuple[ApiToken, ...] | None = None) -> ApiToken | None:
    """The token this session logged in with, while the config still has it unchanged and
    the session was not logged out."""
    name = session.get("user")
    if not isinstance(name, str):
        return None
    if _logouts().ended(str(session.get("sid", ""))):
        return None
    if tokens is None:
        tokens = current().config.api_tokens
    for token in tokens:
        if token.name == name and hmac.compare_digest(fingerprint(token),
                                                      str(session.get("fp", ""))):
            return token
    return None


def log_in(token: ApiToken) -> None:
    """Start a session for `token`: a new CSRF token too (what a visitor saw before logging
    in is not the session's)."""
    session.clear()
    session.permanent = True
    session["user"] = token.name
    session["fp"] = fingerprint(token)
    session["sid"] = secrets.token_urlsafe(16)
    session[CSRF_FIELD] = secrets.token_urlsafe(24)


def log_out() -> None:
    sid = session.get("sid")
    if isinstance(sid, str) and sid:
        _logouts().end(sid)
    session.clear()


_made = threading.Lock()  # the app's Throttle and Logouts, made at their first use


def throttle() -> Throttle:
    found = current_app.extensions.get(THROTTLE)
    if found is None:
        with _made:
            found = current_app.extensions.setdefault(THROTTLE, Throttle(current().clock))
    return found


def _logouts() -> Logouts:
    found = current_app.extensions.get(LOGOUTS)
    if found is None:
        context = current()
        with _made:
            found = current_app.extensions.setdefault(LOGOUTS, Logouts(
                Path(f"{context.db_path}{LOGOUTS_SUFFIX}"), context.clock))
    return found


def client(req: Request) -> str:
    """Who is slowed: the client's address (waitress gives the proxy's own unless it is
    told to trust the proxy's headers)."""
    return req.remote_addr or "?"


class Throttle:
    """Failed logins per client, on an injected clock: `wait(client)` is how long it must
    still wait (0: it may try), `failed(client)` counts one, `passed(client)` forgets it."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def wait(self, who: str) -> float:
        with self._lock:
            count, last = self._failures.get(who, (0, 0.0))
        if count < FREE_FAILURES:
            return 0.0
        delay = min(MAX_WAIT, FIRST_WAIT * 2 ** (count - FREE_FAILURES))
        return max(0.0, last + delay - self._clock())

    def failed(self, who: str) -> None:
        with self._lock:
            count, _ = self._failures.pop(who, (0, 0.0))
            self._failures[who] = (count + 1, self._clock())
            while len(self._failures) > MAX_CLIENTS:
                self._failures.popitem(last=False)

    def passed(self, who: str) -> None:
        with self._lock:
            self._failures.pop(who, None)


class Logouts:
    """The sessions logged out before they expired: `sid expiry` lines in an owner-only
    file, appended at each logout and read again when another process appended to it."""

    def __init__(self, path: Path, clock: Callable[[], float]) -> None:
        self._path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._ended: dict[str, float] = {}
        self._seen: tuple[int, int] | None = None  # the file's (size, mtime) when read

    def ended(self, sid: str) -> bool:
        if not sid:
            return False
        with self._lock:
            self._refresh()
            return self._ended.get(sid, 0.0) > self._clock()

    def end(self, sid: str) -> None:
        expiry = self._clock() + LIFETIME.total_seconds()
        with self._lock:
            self._ended[sid] = expiry
            try:
                descriptor = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                with os.fdopen(descriptor, "a", encoding="ascii") as file:
                    file.write(f"{sid} {expiry:.0f}\n")
            except OSError:
                pass  # ended in this process at least; the cookie is gone from the browser
            self._seen = None

    def _refresh(self) -> None:
        try:
            stat = os.stat(self._path)
        except OSError:
            return
        if self._seen == (stat.st_size, stat.st_mtime_ns):
            return
        now = self._clock()
        with contextlib.suppress(OSError), open(self._path, encoding="ascii",
                                                errors="replace") as file:
            for line in file:
                sid, _, expiry = line.strip().partition(" ")
                with contextlib.suppress(ValueError):
                    if float(expiry) > now:
                        self._ended[sid] = float(expiry)
        self._ended = {sid: at for sid, at in self._ended.items() if at > now}
        self._seen = (stat.st_size, stat.st_mtime_ns)
        if stat.st_size > 64 * 1024:
            self._compact()

    def _compact(self) -> None:
        """Keep the file to the logouts not yet expired (written whole, then renamed)."""
        temporary = self._path.with_name(f".{self._path.name}.{os.getpid()}.{time.time_ns()}")
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="ascii") as file:
                file.writelines(f"{sid} {at:.0f}\n" for sid, at in self._ended.items())
            os.replace(temporary, self._path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
