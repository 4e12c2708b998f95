"""Who may call what: bearer tokens from the config's `apiTokens`.

Without tokens the server only listens on loopback (serve refuses another address), and
every call is allowed: the machine's own users are trusted, as with the database file.
With tokens, every API call needs one (`Authorization: Bearer TOKEN`); a `read` token reads,
a `write` token also changes. `--public-read` lets anonymous clients read what a status
page shows (routes marked "public"), nothing more.

The web pages call the same API with the session cookie a login started
(monitor.web.session) instead of a bearer token: a change made so must carry the session's
CSRF token in its `X-CSRF-Token` header. A change from another site's page (its `Origin`
is not this server's) is refused whatever it carries.

The agent routes (`require_agent`) take only an agent's token (the config's `agents`):
never an API token nor a login session, and an agent's token opens nothing else.
"""

from __future__ import annotations

import functools
import hmac
import math
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from flask import g, request

from monitor.config.agents import Agent
from monitor.config.web import ApiToken
from monitor.web import session
from monitor.web.context import WebContext, current
from monitor.web.problems import Problem

SCOPES = ("public", "read", "write")
AGENT_SCOPE = "agent"  # what the agent routes say they take (docs, tests)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
F = TypeVar("F", bound=Callable[..., object])
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="monitor"'}


def require(scope: str) -> Callable[[F], F]:
    """A route's decorator: the caller must hold `scope` ("public", "read" or "write")."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    def wrap(route: F) -> F:
        @functools.wraps(route)
        def checked(*args: object, **kwargs: object) -> object:
            authorize(scope)
            return route(*args, **kwargs)

        checked.scope = scope  # type: ignore[attr-defined]  # the OpenAPI test reads it
        return checked  # type: ignore[return-value]
    return wrap


def require_agent(route: F) -> F:
    """An agent route's decorator: the caller must send an agent's token; the agent is
    in `g.agent` for the route."""
    @functools.wraps(route)
    def checked(*args: object, **kwargs: object) -> object:
        g.agent = authorize_agent()
        return route(*args, **kwargs)

    checked.scope = AGENT_SCOPE  # type: ignore[attr-defined]
    return checked  # type: ignore[return-value]


def authorize_agent() -> Agent:
    """The agent whose token the request carries; a 401 Problem for none (an API token is
    none), 429 after too many wrong ones from the client's address."""
    g.token_name = None
    given = _bearer()
    if given is None:
        raise Problem(401, "Unauthorized", "an agent sends its token: \"Authorization:"
                      " Bearer TOKEN\" (a token of the config's agents)",
                      headers=_CHALLENGE)
    config = current().config
    # A token of the config's, though not for this route, is no guess: not slowed down.
    if match(config.api_tokens, given) is not None:
        raise Problem(401, "Unauthorized", "an API token does not open the agent routes: an"
                      " agent sends its own token (of the config's agents)",
                      headers=_CHALLENGE)
    try:
        agent = slowed_match(config.agents, given)
    except TooSoon as exc:
        raise Problem(429, "Too Many Requests", f"too many wrong tokens from your address:"
                      f" try again in {exc.seconds} s",
                      headers={"Retry-After": str(exc.seconds)}) from None
    if agent is None:
        raise Problem(401, "Unauthorized", "the token is not one of the config's agents'"
                      " (an agent route takes no API token)", headers=_CHALLENGE)
    g.token_name = f"agent {agent.name}"
    return agent


def authorize(scope: str) -> None:
    """Raise a 401 or 403 Problem unless this request may act with `scope`; remember the
    token's name (never the token) in `g.token_name` for what is logged of a change."""
    context = current()
    tokens = context.config.api_tokens
    g.token_name = None
    changing = request.method not in SAFE_METHODS
    if changing and not same_origin():
        raise Problem(403, "Forbidden", "a change sent from another site's page is refused"
                      " (its Origin is not this server's)")
    if not tokens:
        closed_if_exposed(context)
        return  # loopback only, by serve's own check
    given = _bearer()
    if given is None and (signed_in := session.user(tokens)) is not None:
        if changing and not session.csrf_valid(request.headers.get(session.CSRF_HEADER)):
            raise Problem(403, "Forbidden", f"a change made with a login session needs the"
                          f" session's CSRF token in the {session.CSRF_HEADER} header")
        allow(signed_in, scope)
        return
    if given is None:
        if scope == "public" and context.public_read:
            return
        raise Problem(401, "Unauthorized", "this server needs a token: send"
                      " \"Authorization: Bearer TOKEN\" (a token of the config's apiTokens)",
                      headers=_CHALLENGE)
    if match(context.config.agents, given) is not None:  # no guess: not slowed down
        raise Problem(401, "Unauthorized", "an agent's token opens only the agent routes"
                      " (/api/v1/agent/...)", headers=_CHALLENGE)
    # Wrong tokens are slowed per client as failed logins are: the same guesses.
    try:
        token = slowed_match(tokens, given)
    except TooSoon as exc:
        raise Problem(429, "Too Many Requests", f"too many wrong tokens from your address:"
                      f" try again in {exc.seconds} s",
                      headers={"Retry-After": str(exc.seconds)}) from None
    if token is None:
        raise Problem(401, "Unauthorized", "the token is not one of the config's apiTokens",
                      headers=_CHALLENGE)
    allow(token, scope)


def closed_if_exposed(context: WebContext) -> None:
    """Without tokens: a 503 Problem if the server was started beyond loopback (with
    tokens, reloaded without): closed, not open to everyone."""
    if context.exposed:
        raise Problem(503, "Service Unavailable", "this server listens beyond loopback"
                      " and its config has no apiTokens now: it answers no call until"
                      " they are back (or it is restarted on loopback)")


def allow(token: ApiToken, scope: str) -> None:
    """Act as `token` (its name in `g.token_name`); a 403 Problem if `scope` is beyond it."""
    g.token_name = token.name
    if scope == "write" and not token.allows("write"):
        raise Problem(403, "Forbidden", f"the token {token.name!r} has the read scope;"
                                        " this needs a token with the write scope")


def same_origin() -> bool:
    """The request came from no page (curl, a script), or from one of this server's. A
    browser names the page's origin in `Origin` on every cross-site change it sends."""
    origin = request.headers.get("Origin")
    return origin is None or origin == request.host_url.rstrip("/")


class _Holder(Protocol):
    @property
    def token(self) -> str: ...  # an ApiToken's, an Agent's


T = TypeVar("T", bound=_Holder)


def match(tokens: Sequence[T], given: str) -> T | None:
    """The token equal to `given`, compared with each in constant time (no early exit:
    the time taken says nothing of which token came close)."""
    found = None
    raw = given.encode("utf-8", "surrogateescape")
    for token in tokens:
        if hmac.compare_digest(token.token.encode("utf-8"), raw):
            found = token
    return found


class TooSoon(Exception):
    """This client failed too often: it must wait `seconds` before its next guess."""

    def __init__(self, seconds: int) -> None:
        super().__init__(f"try again in {seconds} s")
        self.seconds = seconds


def slowed_match(tokens: Sequence[T], given: str) -> T | None:
    """`match`, slowed per client (a login or a bearer token alike): raises TooSoon while
    this client must still wait (the token not even compared), counts a miss against it,
    forgets its misses at a hit."""
    throttle, who = session.throttle(), session.client(request)
    wait = throttle.wait(who)
    if wait > 0:
        raise TooSoon(math.ceil(wait))
    token = match(tokens, given)
    if token is None:
        throttle.failed(who)
    else:
        throttle.passed(who)
    return token


def _bearer() -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Problem(401, "Unauthorized", "the Authorization header must be \"Bearer TOKEN\"",
                      headers=_CHALLENGE)
    return value.strip()
