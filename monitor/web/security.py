"""What every answer carries against the browser's own risks, and the CSRF check of the
pages' forms.

The Content-Security-Policy allows scripts and styles from this server's files only: no
inline script, no inline style, nothing from elsewhere (every page works without the
internet). A form posted to a page must carry the session's CSRF token; the API checks
changes made with the session cookie itself (monitor.web.auth).

Without apiTokens the server is open to whoever reaches loopback, so it answers only
requests addressed to a loopback name: a page of another site whose name was re-pointed at
127.0.0.1 (DNS rebinding) would otherwise read and change everything as if it were ours."""

from __future__ import annotations

import ipaddress

from flask import Flask, Response, request

from monitor.web import pages, session
from monitor.web.auth import SAFE_METHODS, same_origin
from monitor.web.context import current
from monitor.web.problems import Problem

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
       " connect-src 'self'; font-src 'self'; manifest-src 'self'; form-action 'self';"
       " frame-ancestors 'none'; base-uri 'none'")
IMMUTABLE = "public, max-age=31536000, immutable"
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def install(app: Flask) -> None:
    app.before_request(_check_host)
    app.before_request(_check_form)
    app.after_request(_headers)


def loopback_host(host: str) -> bool:
    """`localhost`, `127.0.0.1:8080`, `[::1]:8080`...: a name only this machine answers."""
    if host.startswith("["):  # [::1]:8080
        name = host[1:].split("]", 1)[0]
    else:  # name:port, address:port, or a name alone
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _check_host() -> None:
    if current().config.api_tokens:
        return
    if not loopback_host(request.host):
        raise Problem(403, "Forbidden", "this server has no apiTokens, so it answers"
                      " only requests addressed to a loopback name (localhost, 127.0.0.1,"
                      " [::1]); add apiTokens to reach it under another name")


def _check_form() -> None:
    if request.method in SAFE_METHODS or not pages.is_page():
        return
    if not same_origin():
        raise Problem(403, "Forbidden", "a form sent from another site's page is refused")
    if not session.csrf_valid(request.form.get(session.CSRF_FIELD)):
        raise Problem(403, "Forbidden", "the form was refused: it did not carry this"
                      " session's CSRF token (the page may be older than your login:"
                      " reload it and send the form again)")


def _headers(answer: Response) -> Response:
    for name, value in HEADERS.items():
        answer.headers.setdefault(name, value)
    if answer.mimetype == "text/html":
        answer.headers.setdefault("Cache-Control", "no-store")
    elif request.endpoint == "static":
        # A page links a file with its content's hash (`?v=`): that URL never changes
        # meaning. A module a script imports has no hash: asked again each time (a 304).
        answer.headers["Cache-Control"] = (IMMUTABLE if "v" in request.args
                                           else "no-cache")
    return answer
