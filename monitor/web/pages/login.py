"""The login page: an API token (of the config's `apiTokens`) typed once starts a session
cookie; logout ends it. Failed logins are slowed per client (monitor.web.session)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, request
from flask.typing import ResponseReturnValue

from monitor.web import session
from monitor.web.auth import TooSoon, slowed_match
from monitor.web.context import current
from monitor.web.pages import page, render

bp = Blueprint("login", __name__)



def _next() -> str:
    """Where to go after: a path of this server only. Never `//elsewhere`, nor what a
    browser or werkzeug would make of one (`/\\elsewhere`; a tab or line break, which URL
    parsers drop, between the two slashes)."""
    target = request.values.get("next", "/")
    parts = urlsplit(target)
    if (not target.startswith("/") or target.startswith("//") or "\\" in target
            or any(char.isspace() or not char.isprintable() for char in target)
            or parts.scheme or parts.netloc):
        return "/"
    return target


@bp.get("/login")
@page("public")
def form() -> ResponseReturnValue:
    """The login form (`?next=`: where to go after); without apiTokens, straight on."""
    if not current().config.api_tokens:
        return redirect(_next())
    return render("login.html", next=_next(), error=None)


@bp.post("/login")
@page("public")
def submit() -> ResponseReturnValue:
    """Log in with an API token: a session cookie; failures slowed per client."""
    tokens = current().config.api_tokens
    if not tokens:
        return redirect(_next())
    try:
        token = slowed_match(tokens, request.form.get("token", "").strip())
    except TooSoon as exc:
        answer = render("login.html", status=429, next=_next(),
                        error=f"Too many failed logins from your address: try again in"
                              f" {exc.seconds} s.")
        answer.headers["Retry-After"] = str(exc.seconds)
        return answer
    if token is None:
        return render("login.html", status=401, next=_next(),
                      error="That token is not one of the apiTokens of this server.")
    session.log_in(token)
    return redirect(_next())


@bp.post("/logout")
@page("public")
def logout() -> ResponseReturnValue:
    """End the session (kept ended, also for a copy of its cookie)."""
    session.log_out()
    return redirect("/login" if current().config.api_tokens else "/")
