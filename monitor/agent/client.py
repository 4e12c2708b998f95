"""The agent's side of the agent protocol (`/api/v1/agent/`, served by `-m --web`): fetch
the monitors of its location, post results, send a heartbeat.

Every call either returns what the server said or raises `ServerAway` (no answer, or an
answer that says "later": 5xx, 429, a bad gateway's page) or `Refused` (the server will not
take this agent as it is: an unknown token, another location, no agent API at that URL).
The token is sent in a header and never appears in a message: requests' own texts quote
URLs, so messages say why in words of their own.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

import requests

from monitor.core.errors import ConfigError

API = "/api/v1/agent"
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0  # a batch is answered once committed: a busy server's disk may be slow
_CERT = re.compile(r"certificate verify failed: ([A-Za-z0-9 ,.'-]+)")


class ServerAway(Exception):
    """The server did not take the request now; worth trying again later."""


class RowRefused(Exception):
    """The server refused one result of a batch (422 naming `/results/N/...`): it will
    refuse it again, however often it is sent."""

    def __init__(self, index: int, said: str) -> None:
        super().__init__(said)
        self.index = index


class Refused(ConfigError):
    """The server refuses this agent as it is run (token, location, URL): trying again
    cannot help. A ConfigError: the command line exits 2 on it."""


@dataclass(frozen=True)
class Assignment:
    """What `GET monitors` answered: the agent's name and location, the cadences it asks
    for, and the config document (a config.json) of the monitors to run."""

    agent: str
    location: str
    poll: float
    heartbeat: float
    config: dict[str, Any]
    etag: str | None


@dataclass(frozen=True)
class Ack:
    """What the server answered to a batch of results."""

    stored: int
    duplicates: int
    ignored: int
    upto: int


class Client:
    """One server, one token, one location; not shared between threads."""

    def __init__(self, server: str, token: str, location: str) -> None:
        self.server = server.rstrip("/")
        self.location = location
        self._token = token
        self.session = requests.Session()
        self.session.trust_env = False  # no proxy or .netrc credentials from the environment
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers["User-Agent"] = "uptime-monitor-agent"

    def close(self) -> None:
        self.session.close()

    def monitors(self, etag: str | None, timeout: float | None = None) -> Assignment | None:
        """The monitors of this location; None when they are still those of `etag`."""
        headers = {"If-None-Match": etag} if etag else {}
        response = self._call("GET", "monitors", params={"location": self.location},
                              headers=headers, timeout=timeout)
        if response.status_code == 304:
            return None
        body = self._json(response, "GET monitors")
        try:
            config = body["config"]
            if not isinstance(config, dict):
                raise TypeError
            return Assignment(str(body["agent"]), str(body["location"]),
                              _seconds(body["poll"]), _seconds(body["heartbeat"]),
                              config, response.headers.get("ETag"))
        except (KeyError, TypeError, ValueError):
            raise ServerAway(f"{self.server}: GET {API}/monitors answered a document that"
                             " is not an agent's assignment") from None

    def results(self, instance: str, rows: list[dict[str, Any]],
                timeout: float | None = None) -> Ack:
        """Post a batch; the server answers once it has committed it."""
        response = self._call("POST", "results", json={"instance": instance, "results": rows},
                              timeout=timeout)
        body = self._json(response, "POST results")
        try:
            return Ack(int(body["stored"]), int(body["duplicates"]), int(body["ignored"]),
                       int(body["upto"]))
        except (KeyError, TypeError, ValueError):
            raise ServerAway(f"{self.server}: POST {API}/results answered a document that"
                             " is not an acknowledgement") from None

    def heartbeat(self, instance: str, version: str, outbox: int, monitors: int,
                  timeout: float | None = None) -> tuple[str | None, int]:
        """Say the agent is alive; the server's ETag of the monitors and its `upto` for
        this instance (0 when it knows none)."""
        response = self._call("POST", "heartbeat", json={
            "instance": instance, "version": version, "outbox": outbox, "monitors": monitors},
            timeout=timeout)
        body = self._json(response, "POST heartbeat")
        try:
            etag = body.get("etag")
            return (None if etag is None else str(etag)), int(body.get("upto") or 0)
        except (AttributeError, TypeError, ValueError):
            raise ServerAway(f"{self.server}: POST {API}/heartbeat answered a document"
                             " that is not a heartbeat's answer") from None

    # -- inside -----------------------------------------------------------------------
    def _call(self, method: str, route: str, timeout: float | None = None,
              **kwargs: Any) -> requests.Response:
        url = f"{self.server}{API}/{route}"
        what = f"{method} {API}/{route}"
        wait = (CONNECT_TIMEOUT, READ_TIMEOUT) if timeout is None else (timeout, timeout)
        try:
            response = self.session.request(method, url, timeout=wait, allow_redirects=False,
                                            **kwargs)
        except requests.RequestException as exc:
            raise ServerAway(why(exc)) from None
        status = response.status_code
        if status in (200, 304):
            return response
        said = self._problem(response)
        if status == 422 and route == "results":
            pointer = _pointer(response)
            if pointer is not None:
                raise RowRefused(pointer, said.strip())
        if status == 401:
            raise Refused(f"{self.server} refused the agent's token (401{said}): give the"
                          " token of an entry of the server's `agents` with --token or"
                          " MONITOR_AGENT_TOKEN")
        if status == 403:
            raise Refused(f"{self.server} refused location {self.location!r} for this"
                          f" agent's token (403{said}): give --location the location of"
                          " the token's entry in the server's `agents`")
        if 300 <= status < 400:
            target = urllib.parse.urlsplit(response.headers.get("Location", ""))
            where = (f" to {target.scheme}://{target.hostname}{target.path}"
                     if target.scheme and target.hostname else "")
            raise Refused(f"{self.server}: {what} answered {status}, a redirect{where}: give"
                          " --server the address it redirects to (the agent follows no"
                          " redirect: its token would go along)")
        if status == 404:
            raise Refused(f"{self.server}: {what} answered {status}{said}: not the agent"
                          " API of a monitor (`monitoringApp.py -m --web`); is --server"
                          " the address of its web server?")
        # 5xx (503: `serve` without a running monitor, or a store refusing), 429, 4xx of a
        # batch: later, maybe after the server's restart or upgrade.
        raise ServerAway(f"{what} answered {status}{said}")

    def _problem(self, response: requests.Response) -> str:
        """The title and detail of a problem document (RFC 9457), as `: title: detail`."""
        try:
            body = response.json()
        except ValueError:
            return ""
        if not isinstance(body, dict):
            return ""
        parts = [str(body[key]) for key in ("title", "detail")
                 if isinstance(body.get(key), str) and body[key]]
        text = ": ".join(parts)[:300].replace(self._token, "***")
        return f" {text}" if text else ""

    def _json(self, response: requests.Response, what: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ServerAway(f"{self.server}: {what} answered {response.status_code} with"
                             " no JSON object")
        return body


def _pointer(response: requests.Response) -> int | None:
    """The index of the result a 422 problem points at (`"pointer": "/results/3/code"`)."""
    try:
        found = re.fullmatch(r"/results/(\d+)(?:/.*)?", str(response.json().get("pointer")))
    except (ValueError, AttributeError):
        return None
    return int(found.group(1)) if found else None


def _seconds(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 3600:
        raise ValueError(value)
    return float(value)


def why(exc: Exception) -> str:
    """Why a request got no answer, in words that quote nothing of the URL."""
    if isinstance(exc, requests.Timeout):
        return "no answer in time"
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        found = _CERT.search(text)
        return (f"TLS error: certificate verify failed: {found.group(1).strip()}" if found
                else "TLS error")
    for needle, said in (("Connection refused", "connection refused"),
                         ("NameResolutionError", "cannot resolve the host"),
                         ("Name or service not known", "cannot resolve the host"),
                         ("RemoteDisconnected", "connection closed without an answer"),
                         ("Connection reset", "connection reset"),
                         ("Connection aborted", "connection closed without an answer"),
                         ("Network is unreachable", "network unreachable"),
                         ("No route to host", "no route to host")):
        if needle in text:
            return said
    if isinstance(exc, requests.ConnectionError):
        return "cannot connect"
    return type(exc).__name__

