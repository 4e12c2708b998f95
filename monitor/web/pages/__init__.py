"""The web pages: Flask templates over the same data, auth and routes as the API.

Each page module defines a blueprint `bp` (no url prefix); MODULES lists them. A page is a
template filled on the server with what it shows first, and a script (static/js/, ES
modules, no inline script: the Content-Security-Policy allows none) that keeps it live from
the API and its event stream, with the session cookie a login started.

`page(scope)` guards a page as `auth.require` guards a route: "public" (a status page),
"read" or "write". With `apiTokens` in the config, a visitor without a session is sent to
the login page; without tokens (loopback only) every visitor may do everything, as with the
API."""

from __future__ import annotations

import functools
import hashlib
import importlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar
from urllib.parse import quote

from flask import Flask, Response, current_app, redirect, render_template, request, url_for

from monitor import __version__
from monitor.web import auth, session
from monitor.web.context import current
from monitor.web.problems import Problem

F = TypeVar("F", bound=Callable[..., Any])
MODULES = (
    "monitor.web.pages.login",
    "monitor.web.pages.dashboard",
    "monitor.web.pages.monitor",
    "monitor.web.pages.status",
    "monitor.web.pages.edit",
    "monitor.web.pages.explore",
    "monitor.web.pages.logs",
)
STATIC = Path(__file__).resolve().parent.parent / "static"
_versions: dict[str, str] = {}


def modules() -> list[ModuleType]:
    return [importlib.import_module(name) for name in MODULES]


def register(app: Flask) -> None:
    names = set()
    for module in modules():
        app.register_blueprint(module.bp)
        names.add(module.bp.name)
    app.extensions["monitor.pages"] = frozenset(names)
    app.context_processor(_globals)
    # Browsers ask for /favicon.ico whatever the page links.
    app.add_url_rule("/favicon.ico", "favicon",
                     lambda: redirect(url_for("static", filename="favicon.svg"), 301))


# Paths of the machine-facing routes: their errors are problem documents, whoever asks.
MACHINE_PATHS = ("/api/", "/metrics", "/badge/")


def is_page() -> bool:
    """This request is for a page (its errors are pages too), not the API: a page's
    route, or a path no route has that a browser asked for (a mistyped address)."""
    if request.blueprint in current_pages():
        return True
    return (request.blueprint is None and not request.path.startswith(MACHINE_PATHS)
            and request.accept_mimetypes.accept_html)


def current_pages() -> frozenset[str]:
    found: frozenset[str] = current_app.extensions.get("monitor.pages", frozenset())
    return found


def page(scope: str = "read") -> Callable[[F], F]:
    """A page's decorator: who may see it. A visitor who must log in is sent to /login,
    and comes back here after."""
    def wrap(view: F) -> F:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            refused = refusal(scope)
            if refused is not None:
                return refused
            return view(*args, **kwargs)
        guarded.scope = scope  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]
    return wrap


def refusal(scope: str) -> Response | None:
    """None when this visitor may see a page of `scope`; else the answer instead."""
    if scope == "public":
        return None
    context = current()
    tokens = context.config.api_tokens
    if not tokens:
        auth.closed_if_exposed(context)
        return None
    signed_in = session.user(tokens)
    if signed_in is None:
        target = request.full_path if request.query_string else request.path
        return redirect(url_for("login.form", next=target))  # type: ignore[return-value]
    auth.allow(signed_in, scope)
    return None


def asset(name: str) -> str:
    """A static file's URL with its content's hash: cached for a year, never stale."""
    version = _versions.get(name)
    if version is None:
        try:
            version = hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]
        except OSError:
            version = __version__
        _versions[name] = version
    return f"{url_for('static', filename=name)}?v={version}"


def monitor_url(monitor_id: str, what: str = "") -> str:
    """A monitor page's path: the id (a URL, often) keeps its slashes, escapes the rest."""
    path = f"/monitors/{quote(monitor_id, safe='/:@')}"
    return f"{path}/{what}" if what else path


def _globals() -> dict[str, Any]:
    context = current()
    tokens = context.config.api_tokens
    signed_in = session.user(tokens) if tokens else None
    return {"asset": asset, "csrf_token": session.csrf_token,
            "csrf_field": session.CSRF_FIELD, "monitor_url": monitor_url,
            "login_needed": bool(tokens), "signed_in": signed_in,
            "can_write": not tokens or (signed_in is not None
                                        and signed_in.allows("write")),
            "version": __version__}


def render(template: str, status: int = 200, **values: Any) -> Response:
    return Response(render_template(template, **values), status=status,
                    mimetype="text/html")


def error_page(problem: Problem) -> Response:
    # Under /status/ a customer reads it (a mistyped status page): their page's look, no
    # admin navigation, no session.
    customer = request.path.startswith("/status/")
    answer = render("status_error.html" if customer else "error.html",
                    status=problem.status, problem=problem)
    answer.headers.update(problem.headers)
    return answer
