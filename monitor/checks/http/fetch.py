"""The `http` check kind: one GET with requests, on a fresh connection, bounded in time and size.

Every check opens a new connection (as the blackbox exporter and Monit do) so that name
resolution, connect and TLS are exercised each time: a pooled keep-alive connection would
hide a dead resolver or an expired certificate behind a socket opened an hour ago.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
import urllib3.response
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from monitor import __version__
from monitor.checks.deadline import Deadline
from monitor.checks.http import resolver
from monitor.checks.http.spec import HttpSpec
from monitor.checks.model import CheckResult, Monitor
from monitor.secrets import is_sensitive, redact

MAX_REDIRECTS = 10
CHUNK = 64 * 1024
USER_AGENT = f"uptime-monitor/{__version__}"

_local = threading.local()
# `tlsVerify: false` is the user's explicit choice; a warning per check would drown the output.
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)


def _track(sock: socket.socket) -> socket.socket:
    deadline: Deadline | None = getattr(_local, "deadline", None)
    if deadline is not None:
        deadline.track(sock)
    return sock


class IncompleteHeaders(http.client.HTTPException):
    """The connection ended before the blank line that closes the headers."""


class _LineRecorder:
    """Stands in for a response's file while its head is read, remembering the last line."""

    __slots__ = ("_fp", "last")

    def __init__(self, fp) -> None:  # type: ignore[no-untyped-def]
        self._fp = fp
        self.last: bytes | None = None

    def readline(self, limit: int = -1) -> bytes:
        self.last = self._fp.readline(limit)
        return self.last

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self._fp, name)


class _StrictResponse(http.client.HTTPResponse):
    """http.client takes end-of-file as the end of the headers, so "HTTP/1.1 200 OK" and a
    close would pass as a healthy empty page. A server that dies mid-answer is not up.
    It also skips only "100 Continue": "103 Early Hints" before a 500 would pass as up."""

    def _read_status(self):  # type: ignore[no-untyped-def]
        while True:
            version, status, reason = super()._read_status()
            # Interim answers (RFC 9110 section 15.2) other than 100, which begin() skips
            # itself, and 101, which ends HTTP on this connection.
            if not 101 < status < 200:
                return version, status, reason
            http.client._read_headers(self.fp)  # type: ignore[attr-defined]

    def begin(self) -> None:
        fp = self.fp
        recorder = self.fp = _LineRecorder(fp)
        try:
            super().begin()
        finally:
            self.fp = fp
        if recorder.last == b"":
            raise IncompleteHeaders("connection closed inside the headers")


class _CheckedChunks(urllib3.response.HTTPResponse):
    """urllib3 throws away the two bytes after each chunk's data unread: a chunk of the
    wrong length would pass. Here they must be the CRLF that the framing requires."""

    def _handle_chunk(self, amt: int | None) -> bytes:
        left = self.chunk_left or 0
        fp = self._fp
        if amt is not None and amt < left:
            self.chunk_left = left - amt
            return fp._safe_read(amt)  # type: ignore[union-attr,no-any-return]
        data: bytes = fp._safe_read(left)  # type: ignore[union-attr]
        self.chunk_left = None
        if fp._safe_read(2) != b"\r\n":  # type: ignore[union-attr]
            raise urllib3.exceptions.ProtocolError("chunk data not followed by CRLF")
        return data


class _Tracked:
    """Connection mixin: name resolution and connect bounded by the check's deadline, and
    every socket handed to that deadline so that the watchdog can cut it."""

    response_class = _StrictResponse

    def getresponse(self):  # type: ignore[no-untyped-def]
        response = super().getresponse()  # type: ignore[misc]
        response.__class__ = _CheckedChunks  # urllib3 builds its response class by name
        return response

    def _new_conn(self) -> socket.socket:
        deadline: Deadline | None = getattr(_local, "deadline", None)
        if deadline is None:
            return super()._new_conn()  # type: ignore[misc]
        try:
            addresses = resolver.resolve(self._dns_host, self.port, deadline)  # type: ignore[attr-defined]
            return resolver.connect(addresses, deadline, self.socket_options)  # type: ignore[attr-defined]
        except resolver.ResolverTimeout:
            raise
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[attr-defined,arg-type]
        except TimeoutError as exc:
            raise ConnectTimeoutError(self, f"connect timed out: {exc}") from exc
        except OSError as exc:
            raise NewConnectionError(self, f"cannot connect: {exc}") from exc  # type: ignore[arg-type]


class _TrackedHTTPConnection(_Tracked, HTTPConnection):
    pass


class _TrackedHTTPSConnection(_Tracked, HTTPSConnection):
    def connect(self) -> None:
        super().connect()
        # Wrapping for TLS detaches the raw socket tracked in _new_conn: track the TLS
        # socket too, or a server dripping bytes after the handshake outlives the timeout.
        _track(self.sock)


class _NoReuse:
    """Pool mixin: never keep a connection for the next check; close it and hand back an
    empty slot."""

    def _put_conn(self, conn):  # type: ignore[no-untyped-def]
        if conn is not None:
            conn.close()
        super()._put_conn(None)  # type: ignore[misc]


class _FreshPool(_NoReuse, HTTPConnectionPool):
    ConnectionCls = _TrackedHTTPConnection


class _FreshHTTPSPool(_NoReuse, HTTPSConnectionPool):
    ConnectionCls = _TrackedHTTPSConnection


class _FreshAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _FreshPool, "https": _FreshHTTPSPool}


def _adapter() -> _FreshAdapter:
    adapter = getattr(_local, "adapter", None)
    if adapter is None:
        adapter = _local.adapter = _FreshAdapter(pool_connections=4, pool_maxsize=1,
                                                 max_retries=0)
    return adapter


_DEFAULT_HEADERS = {"User-Agent": USER_AGENT, "Connection": "close"}
# A site's first request prepared once (URL normalised, credentials in the URL turned into
# an Authorization header) and copied for each check: going through a Session each time
# cost a third of a check's CPU (780 -> 500 us per check against nginx), for the same
# result every time. Bounded so that a config reloaded with ever-new URLs cannot grow it
# without end; redirect targets, which a server may make unique per request, are not kept.
_PREPARED_MAX = 20_000
_prepared: dict[tuple[str, tuple[tuple[str, str], ...]], requests.PreparedRequest] = {}


def _prepare(url: str, headers: dict[str, str], keep: bool) -> requests.PreparedRequest:
    key = (url, tuple(headers.items()))
    prepared = _prepared.get(key) if keep else None
    if prepared is None:
        merged = CaseInsensitiveDict(_DEFAULT_HEADERS)
        merged.update(headers)  # the site's own headers win, whatever their case
        prepared = requests.Request("GET", url, headers=merged).prepare()
        if not keep:
            return prepared
        if len(_prepared) >= _PREPARED_MAX:
            _prepared.clear()
        _prepared[key] = prepared
    return prepared.copy()


def _send(url: str, headers: dict[str, str], verify: bool | str, remaining: float,
          first: bool) -> requests.Response:
    """One GET through requests' transport adapter, without a Session's layers: no
    cookies carried from one check to the next, no hooks, nothing from the environment
    (proxy variables, .netrc): the check sees what it is told to."""
    return _adapter().send(_prepare(url, headers, keep=first), stream=True,
                           timeout=(remaining, remaining), verify=verify)


def _origin(parts) -> tuple[str, str | None, int | None] | None:  # type: ignore[no-untyped-def]
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), parts.hostname, port


class _TooLarge(Exception):
    pass


class _TooManyRedirects(Exception):
    pass


def _fetch(site: HttpSpec, deadline: Deadline, seen: list[int]) -> tuple[int, str]:
    """GET the site, following redirects by hand so that every hop is bounded in size;
    the status of the last answer goes into `seen` so that a failure after the headers
    still records it."""
    url = site.url
    first = urlsplit(url)
    origin = _origin(first)
    headers = dict(site.headers)
    verify: bool | str = (site.ca_file or True) if site.tls_verify else False
    for hop in range(MAX_REDIRECTS + 1):
        remaining = deadline.remaining()
        if remaining <= 0:
            raise TimeoutError("check deadline passed")
        response = _send(url, headers, verify, remaining, first=hop == 0)
        seen[:] = [response.status_code]
        try:
            if response.is_redirect:
                url = urljoin(response.url, response.headers["location"])
                target = urlsplit(url)
                if _origin(target) == origin:
                    if first.username is not None and target.username is None:
                        # The same site: its URL's credentials go on (requests' own
                        # redirects keep them in the Authorization header they made).
                        url = target._replace(netloc=first.netloc).geturl()
                else:
                    # As browsers and requests do: credentials go to the site they were
                    # written for, not to another host, nor over plain HTTP.
                    headers = {k: v for k, v in headers.items() if not is_sensitive(k)}
                    origin = None  # and never again on this check, even back at the start
                continue
            read = 0
            for chunk in response.raw.stream(CHUNK, decode_content=False):
                read += len(chunk)
                if read > site.max_body_bytes:
                    raise _TooLarge(f"body larger than {site.max_body_bytes} bytes")
            return response.status_code, response.reason or ""
        finally:
            response.close()
    raise _TooManyRedirects(f"more than {MAX_REDIRECTS} redirects")


def http_check(monitor: Monitor, deadline: Deadline) -> CheckResult:
    site: HttpSpec = monitor.spec
    timestamp = time.time()
    start = time.monotonic()
    _local.deadline = deadline
    status: int | None = None
    reason: str | None = None
    detail = ""
    seen: list[int] = []
    try:
        status, phrase = _fetch(site, deadline, seen)
        if status >= 400:
            reason, detail = "http_status", f"HTTP {status} {phrase}".rstrip()
    except _TooLarge as exc:
        reason, detail = "too_large", str(exc)
    except _TooManyRedirects as exc:
        reason, detail = "invalid_response", str(exc)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a recorded reason
        reason, detail = classify(exc, deadline)
    finally:
        _local.deadline = None
    if status is None and seen:
        status = seen[0]
    elapsed_ms = (time.monotonic() - start) * 1000.0
    return CheckResult(
        monitor=monitor.id,
        timestamp=timestamp,
        available=reason is None,
        code=status,
        response_ms=elapsed_ms,
        reason=reason,
        detail=_printable(redact(detail, monitor.secrets)),
    )


def _printable(text: str) -> str:
    """One short printable line: a server's garbage must not garble the terminal."""
    text = " ".join(text.split())
    return "".join(ch if ch.isprintable() else "?" for ch in text)[:200]


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    stack = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for linked in (current.__cause__, current.__context__, getattr(current, "reason", None)):
            if isinstance(linked, BaseException):
                stack.append(linked)
        stack.extend(arg for arg in current.args if isinstance(arg, BaseException))


def classify(exc: BaseException, deadline: Deadline | None = None) -> tuple[str, str]:
    """Map an exception raised by a check to one of REASONS with a short detail."""
    chain = list(_chain(exc))

    def find(*types: type[BaseException]) -> BaseException | None:
        return next((e for e in chain if isinstance(e, types)), None)

    # Before the deadline test: a resolver that ate the whole budget is a DNS failure.
    if found := find(resolver.ResolverTimeout):
        return "dns", str(found)
    if deadline is not None and deadline.expired:
        return "timeout", f"no complete answer within {deadline.timeout:g} s"
    if found := find(socket.gaierror, urllib3.exceptions.NameResolutionError):
        gai = find(socket.gaierror)
        return "dns", f"name does not resolve: {gai.strerror if gai else found}"
    if found := find(ssl.SSLCertVerificationError):
        return "tls", f"certificate: {found.verify_message or found.reason}"
    if found := find(ssl.SSLError, requests.exceptions.SSLError):
        return "tls", f"TLS: {getattr(found, 'reason', None) or found}"
    if find(ConnectionRefusedError):
        return "connect", "connection refused"
    if find(http.client.RemoteDisconnected):
        return "invalid_response", "connection closed without a response"
    if find(ConnectionResetError, BrokenPipeError):
        return "connect", "connection reset by peer"
    # urllib3's NewConnectionError (any connect failure: unreachable network, no route) is a
    # subclass of its ConnectTimeoutError: it is no timeout, its OSError says what it is.
    timeouts = (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)
    if any(isinstance(e, timeouts) and not isinstance(e, NewConnectionError) for e in chain):
        timeout = deadline.timeout if deadline else None
        return "timeout", f"no complete answer within {timeout:g} s" if timeout else "timed out"
    if found := find(http.client.HTTPException):
        return "invalid_response", f"malformed HTTP: {type(found).__name__}: {found}"[:200]
    # requests' own exceptions are OSErrors too, without an errno: look past them.
    if found := next((e for e in chain if isinstance(e, OSError) and e.strerror), None):
        return "connect", str(found.strerror)
    if found := find(urllib3.exceptions.ProtocolError, requests.exceptions.ChunkedEncodingError):
        return "invalid_response", f"broken response: {found}"
    if found := find(requests.exceptions.InvalidURL, requests.exceptions.InvalidHeader,
                     urllib3.exceptions.LocationParseError, UnicodeError):
        return "invalid_response", str(found)
    return "other", f"{type(exc).__name__}: {exc}"
