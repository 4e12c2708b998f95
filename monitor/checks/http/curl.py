"""The `http` check kind on libcurl: one GET on a fresh connection, bounded in time and size.

Every check opens a new connection (as the blackbox exporter and Monit do) so that name
resolution, connect and TLS are exercised each time: a pooled keep-alive connection, a
cached DNS answer or a resumed TLS session would hide a dead resolver or an expired
certificate behind work done an hour ago.

`CurlLoop` drives every check of a probe process in flight from one thread: a CurlMulti
on the socket API (M_SOCKETFUNCTION, M_TIMERFUNCTION, socket_action) over epoll, which
has no limit on descriptor numbers as select() has. libcurl's threaded resolver, Happy
Eyeballs connect and TLS all run inside that loop, each bounded by the transfer's
TIMEOUT_MS. Redirects are followed here, one easy handle per hop, so that credentials
and secret headers go where this module says and nowhere else.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import functools
import os
import re
import select
import sys
import threading
import time
import traceback
from urllib.parse import SplitResult, urljoin, urlsplit

import pycurl

from monitor import __version__
from monitor.checks import certs
from monitor.checks.http.expect import MAX_DETAIL, describe
from monitor.checks.http.spec import HttpSpec
from monitor.checks.trace import DETAIL_CHARS, verdict_lines
from monitor.checks.trace import detail as printable_detail
from monitor.core.deadline import Deadline
from monitor.core.kind import Done
from monitor.core.model import CheckResult, Monitor
from monitor.core.secrets import display_url, is_sensitive, redact, redact_known

MAX_REDIRECTS = 10
USER_AGENT = f"uptime-monitor/{__version__}"
# Set by `monitoringApp.py agent` to "agent eu-1; location eu" before its checks start, so
# that a target's operators see in their logs where a check came from. Inherited by the
# probe processes, which are started with the agent's environment.
IDENTITY_ENV = "MONITOR_AGENT_IDENTITY"
DEFAULT_LIMIT = 64
# As http.client (what the checks ran on before) bounds a response's head.
MAX_HEADERS = 100
MAX_LINE = 65536
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Names no resolver may answer (RFC 6761 section 6.4: "SHOULD always return immediate
# negative responses"): no query leaves the machine for them.
RESERVED_NEGATIVE = ("invalid",)
# CURLOPT_QUICK_EXIT (libcurl 7.87), which pycurl does not name: a lookup stuck in
# getaddrinfo is left to its thread instead of being waited for when its transfer ends,
# or one dead resolver would stall the loop that drives every check.
_QUICK_EXIT = 322
_STATUS_LINE = re.compile(rb"HTTP/1\.\d[ \t]+(\d{3})(?:[ \t]+(.*?))?[ \t]*\r?\n?\Z", re.S)
# The status line libcurl writes for an answer that came over HTTP/2 or HTTP/3 ("HTTP/2 200"):
# valid only when that version was negotiated; as text on an HTTP/1 connection it is garbage.
_FRAMED_STATUS_LINE = re.compile(rb"HTTP/[23][ \t]+(\d{3})()[ \t]*\r?\n?\Z")  # no phrase
_FRAMED_VERSIONS = {b"2": pycurl.CURL_HTTP_VERSION_2_0, b"3": pycurl.CURL_HTTP_VERSION_3}


class _Abort(Exception):
    """Raised inside the check's own bookkeeping: the outcome (reason, detail) is known."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail


def _origin(parts: SplitResult) -> tuple[str, str | None, int | None]:
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), parts.hostname, port


@functools.cache
def user_agent() -> str:
    """USER_AGENT, with the agent's identity in brackets when the process checks for one:
    `uptime-monitor/1.2 (agent eu-1; location eu)`. Read once, at the first check (after
    the agent has set it), so every check of a process says the same."""
    # Only what a header value may carry: no control character (a line break would start
    # a header of its own), no bracket that would end the comment early.
    identity = "".join(c for c in os.environ.get(IDENTITY_ENV, "")
                       if c.isprintable() and c.isascii() and c not in "()\\").strip()
    return f"{USER_AGENT} ({identity})" if identity else USER_AGENT


def _merge_headers(spec: HttpSpec) -> list[str]:
    merged = {"user-agent": ("User-Agent", user_agent()), "connection": ("Connection", "close")}
    for name, value in spec.headers:
        merged[name.lower()] = (name, value)  # the site's own headers win, whatever their case
    return [f"{name}: {value}" for name, value in merged.values()]


class Check:
    """One check of one monitor: its hops, what the server said, and how it ended. The
    easy handle of the current hop calls `_header` and `_write`; `hop_ended` decides what
    comes next."""

    def __init__(self, monitor: Monitor, lateness_ms: float = 0.0, done: Done | None = None,
                 trace: list[str] | None = None, keep_body: bool = False) -> None:
        self.monitor = monitor
        self.spec: HttpSpec = monitor.spec
        self.lateness_ms = lateness_ms
        self.done = done
        self.trace = trace
        self.submitted = time.monotonic()
        self.started = 0.0
        self.timestamp = 0.0
        self.at = 0.0
        self.url = self.spec.url
        self.first = urlsplit(self.url)
        self.origin: tuple | None = _origin(self.first)
        self.headers = _merge_headers(self.spec)
        self.hops = 0
        self.status: int | None = None
        self.phrase = ""
        self.location: str | None = None
        self.in_head = False  # inside a response head: a status line seen, no blank line yet
        self.final = False  # the final answer's head is complete
        self.header_count = 0
        self.body = 0
        expect = self.spec.expect
        self.keep_body = keep_body or (expect is not None and expect.needs_body)
        # The final answer's headers by lower-case name, for `expect` and the body's charset.
        self.answer_headers: dict[str, list[str]] | None = {} if expect is not None else None
        self.cert_days: float | None = None  # the soonest expiry of the certificates seen
        self.chunks: list[bytes] = []  # the final answer's body, when kept
        self.abort: _Abort | None = None
        self.framed: bytes | None = None  # an HTTP/2 or /3 status line seen on this hop
        self.metrics: dict[str, float] = {}
        self.curl_ms = 0.0
        self.easy: pycurl.Curl | None = None

    def begin(self) -> None:
        self.started = time.monotonic()
        self.timestamp = time.time()
        self.at = self.started + self.monitor.timeout
        self.lateness_ms += (self.started - self.submitted) * 1000.0

    # -- one hop -------------------------------------------------------------------------

    def hop(self) -> pycurl.Curl:
        """A new easy handle for the current URL; raise _Abort when there is nothing to
        fetch (no time left, a name that never resolves)."""
        parts = urlsplit(self.url)
        if parts.scheme.lower() not in ("http", "https"):
            raise _Abort("invalid_response", f"redirect to a non-HTTP URL ({parts.scheme}:)")
        host = (parts.hostname or "").rstrip(".")
        if host.rpartition(".")[2].lower() in RESERVED_NEGATIVE:
            raise _Abort("dns", "name does not resolve: reserved name that never resolves"
                                " (RFC 6761)")
        remaining_ms = int((self.at - time.monotonic()) * 1000.0)
        if remaining_ms <= 0:
            raise _Abort("timeout", f"no complete answer within {self.monitor.timeout:g} s")
        self.status, self.phrase, self.location = None, "", None
        self.in_head, self.final, self.header_count, self.body = False, False, 0, 0
        self.framed = None
        self.chunks = []
        easy = pycurl.Curl()
        setopt = easy.setopt
        setopt(pycurl.URL, self.url)
        setopt(pycurl.HTTPHEADER, self.headers)
        setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
        setopt(pycurl.TIMEOUT_MS, remaining_ms)
        setopt(pycurl.NOSIGNAL, 1)
        setopt(pycurl.FRESH_CONNECT, 1)
        setopt(pycurl.FORBID_REUSE, 1)
        setopt(pycurl.DNS_CACHE_TIMEOUT, 0)
        setopt(pycurl.SSL_SESSIONID_CACHE, 0)
        setopt(_QUICK_EXIT, 1)
        setopt(pycurl.PROXY, "")  # nothing from the environment: the check sees what it is told
        setopt(pycurl.NETRC, pycurl.NETRC_IGNORED)
        # HTTP/0.9 is let through libcurl only to be refused in _write, quoting the line
        # that is not a status line.
        setopt(pycurl.HTTP09_ALLOWED, 1)
        setopt(pycurl.HEADERFUNCTION, self._header)
        setopt(pycurl.WRITEFUNCTION, self._write)
        if parts.scheme.lower() == "https":
            if not self.spec.tls_verify:
                setopt(pycurl.SSL_VERIFYPEER, 0)
                setopt(pycurl.SSL_VERIFYHOST, 0)
            elif self.spec.ca_file:
                setopt(pycurl.CAINFO, self.spec.ca_file)
            # Every https check records the days left of the certificate it saw.
            setopt(pycurl.OPT_CERTINFO, 1)
        if self.trace is not None:
            self.trace.append(f"hop {self.hops}: GET {self._shown(self.url)}")
        self.easy = easy
        return easy

    def _shown(self, text: str) -> str:
        return redact(display_url(text), self.monitor.secrets)

    def _header(self, line: bytes) -> int | None:
        if len(line) > MAX_LINE:
            self.abort = _Abort("invalid_response", "malformed HTTP: LineTooLong: header line")
            return -1
        if not self.in_head:
            if self.final or line in (b"\r\n", b"\n"):
                return None  # trailer fields after a chunked body: not a new answer
            match = _STATUS_LINE.match(line) or self._framed(line)
            if match is None:
                text = line.decode("latin-1").strip()
                self.abort = _Abort("invalid_response", f"malformed HTTP: BadStatusLine: {text}")
                return -1
            self.status = int(match.group(1))
            self.phrase = (match.group(2) or b"").decode("latin-1").strip()
            self.in_head, self.header_count, self.location = True, 0, None
            if self.answer_headers is not None:
                self.answer_headers = {}
            if self.trace is not None:
                self.trace.append(f"  < {line.decode('latin-1').rstrip()}")
            return None
        if line in (b"\r\n", b"\n"):
            self.in_head = False
            self.final = self.status is not None and self.status >= 200
            if (self.status in REDIRECT_STATUSES and self.location is not None
                    and self.hops <= MAX_REDIRECTS):
                return -1  # its body is of no interest: on to the next hop
            return None
        self.header_count += 1
        if self.header_count > MAX_HEADERS:
            self.abort = _Abort("invalid_response",
                                f"malformed HTTP: HTTPException: got more than {MAX_HEADERS}"
                                " headers")
            return -1
        name, sep, value = line.decode("latin-1").partition(":")
        if sep and name.strip().lower() == "location":
            self.location = value.strip()
        if sep and self.answer_headers is not None:
            self.answer_headers.setdefault(name.strip().lower(), []).append(value.strip())
        if self.trace is not None and sep:
            shown = "***" if is_sensitive(name.strip()) else redact(value.strip(),
                                                                   self.monitor.secrets)
            self.trace.append(f"  < {name.strip()}: {shown}")
        return None

    def _framed(self, line: bytes) -> re.Match[bytes] | None:
        """An HTTP/2 or HTTP/3 status line; hop_ended checks that this hop negotiated that
        version (libcurl answers no question about a transfer from inside its callbacks)."""
        match = _FRAMED_STATUS_LINE.match(line)
        if match is not None:
            self.framed = line
        return match

    def _write(self, data: bytes) -> int | None:
        if self.status is None:
            # libcurl took it for HTTP/0.9: no status line at all. Refused, as today.
            line = data.split(b"\n", 1)[0].decode("latin-1").strip()
            self.abort = _Abort("invalid_response", f"malformed HTTP: BadStatusLine: {line}")
            return 0
        self.body += len(data)
        if self.body > self.spec.max_body_bytes:
            self.abort = _Abort("too_large", f"body larger than {self.spec.max_body_bytes} bytes")
            return 0
        if self.keep_body:
            self.chunks.append(data)
        return None

    def hop_ended(self, code: int, message: str) -> bool:
        """The current hop ended with libcurl's `code`: True when another hop follows (in
        self.url), False when the check is over (see `result`)."""
        easy = self.easy
        assert easy is not None
        self._measure(easy)
        if self.url[:6].lower() == "https:":
            self._certificate(easy)
        if self.trace is not None:
            self._trace_hop(easy)
        framed = self.framed
        if framed is not None and easy.getinfo(pycurl.INFO_HTTP_VERSION) != _FRAMED_VERSIONS[
                framed[5:6]]:
            # "HTTP/2 200" as text on an HTTP/1 connection: not a status line.
            self.status = None
            self.abort = _Abort("invalid_response", "malformed HTTP: BadStatusLine: "
                                + framed.decode("latin-1").strip())
        if self.in_head:
            # No complete head, no answer: its status line alone says nothing.
            self.status = None
            if self.abort is None and code in (0, pycurl.E_PARTIAL_FILE, pycurl.E_GOT_NOTHING):
                self.abort = _Abort("invalid_response", "malformed HTTP: IncompleteHeaders:"
                                                        " connection closed inside the headers")
        redirect = (self.status in REDIRECT_STATUSES and self.location is not None
                    and self.abort is None)
        if redirect and code in (0, pycurl.E_WRITE_ERROR):
            self.easy = None
            easy.close()
            if self.hops >= MAX_REDIRECTS:
                self.abort = _Abort("invalid_response", f"more than {MAX_REDIRECTS} redirects")
                return False
            self._follow(self.location)  # type: ignore[arg-type]
            return True
        if self.abort is None and code:
            self.abort = classify(code, message, easy, self)
        self.easy = None
        easy.close()
        expect = self.spec.expect
        if (self.abort is None and self.status is not None and self.status >= 400
                and (expect is None or not expect.status)):
            self.abort = _Abort("http_status", f"HTTP {self.status} {self.phrase}".rstrip())
        return False

    def _certificate(self, easy: pycurl.Curl) -> None:
        with contextlib.suppress(pycurl.error):
            for cert in easy.getinfo(pycurl.INFO_CERTINFO)[:1]:
                left = _days_left(dict(cert).get("Expire date", ""))
                if left is not None and (self.cert_days is None or left < self.cert_days):
                    self.cert_days = left

    def _follow(self, location: str) -> None:
        url = urljoin(self.url, location)
        target = urlsplit(url)
        if self.origin is not None and _origin(target) == self.origin:
            if self.first.username is not None and target.username is None:
                # The same site: its URL's credentials go on.
                url = target._replace(netloc=self.first.netloc).geturl()
        else:
            # As browsers and requests do: credentials go to the site they were written
            # for, not to another host, nor over plain HTTP; and never again on this check,
            # even back at the start.
            self.headers = [h for h in self.headers if not is_sensitive(h.partition(":")[0])]
            self.origin = None
        self.url = url
        self.hops += 1

    def _measure(self, easy: pycurl.Curl) -> None:
        info = easy.getinfo
        total = info(pycurl.TOTAL_TIME_T) / 1000.0
        if self.hops == 0:
            dns = info(pycurl.NAMELOOKUP_TIME_T) / 1000.0
            connect = info(pycurl.CONNECT_TIME_T) / 1000.0
            tls = info(pycurl.APPCONNECT_TIME_T) / 1000.0
            # Only the phases that ended: a lookup that failed has no time, and a 0 would
            # pull the site's dns p50 down.
            metrics = {"dns": dns} if dns or connect else {}
            if connect:
                metrics["connect"] = connect - dns
                if tls:
                    metrics["tls"] = tls - connect
            self.metrics = metrics
        start = info(pycurl.STARTTRANSFER_TIME_T) / 1000.0
        if start and self.status is not None:
            # From the request sent to the first byte of the answer: the server's time.
            self.metrics["ttfb"] = start - info(pycurl.PRETRANSFER_TIME_T) / 1000.0
        self.curl_ms += total
        self.metrics["total"] = self.curl_ms

    def _trace_hop(self, easy: pycurl.Curl) -> None:
        trace = self.trace
        assert trace is not None
        ip = easy.getinfo(pycurl.PRIMARY_IP)
        if ip:
            trace.append(f"  address {ip} port {easy.getinfo(pycurl.PRIMARY_PORT)}")
        with contextlib.suppress(pycurl.error):
            for cert in easy.getinfo(pycurl.INFO_CERTINFO)[:1]:
                fields = dict(cert)
                trace.append(f"  certificate subject: {fields.get('Subject', '?')}")
                trace.append(f"  certificate issuer: {fields.get('Issuer', '?')}")
                left = _days_left(fields.get("Expire date", ""))
                if left is not None:
                    trace.append(f"  certificate expires in {left:.1f} days")
        phases = " ".join(f"{k}={v:.1f}ms" for k, v in self.metrics.items())
        trace.append(f"  phases: {phases}")

    def result(self) -> CheckResult:
        response_ms = (time.monotonic() - self.started) * 1000.0
        if self.cert_days is not None:
            self.metrics[certs.METRIC] = self.cert_days
        warning = None
        if (self.abort is None and self.status is not None
                and (self.spec.expect is not None or self.cert_days is not None)):
            warning = self._judge(response_ms)
        abort = self.abort or warning
        reason, detail = (abort.reason, abort.detail) if abort else (None, "")
        return CheckResult(
            monitor_id=self.monitor.id,
            timestamp=self.timestamp,
            available=self.abort is None,
            code=self.status,
            response_ms=response_ms,
            reason=reason,
            # Every failed condition of `expect` is named, shortened as it needs.
            detail=printable_detail(detail, self.monitor.secrets,
                                    MAX_DETAIL if reason == "assertion" else DETAIL_CHARS),
            lateness_ms=self.lateness_ms,
            mono=self.started,
            metrics=self.metrics,
            warning=warning is not None,
        )

    def _judge(self, response_ms: float) -> _Abort | None:
        """The answer against `expect` and the certificate's expiry: sets self.abort on a
        failure; returns a warning, if any."""
        assert self.status is not None
        expect = self.spec.expect
        if expect is not None:
            headers = self.answer_headers or {}
            failed = expect.failures(self.status, headers,
                                     b"".join(self.chunks) if self.keep_body else None,
                                     _charset(headers), response_ms)
            if failed:
                self.abort = _Abort("assertion", describe(failed, self.monitor.secrets))
                return None
        if self.cert_days is not None:
            found = self.spec.expiry.verdict(self.cert_days)
            if found is not None:
                state, detail = found
                if state == "down":
                    self.abort = _Abort(certs.REASON, detail)
                    return None
                return _Abort(certs.REASON, detail)
        return None

    def crashed(self, exc: BaseException) -> CheckResult:
        self.abort = _Abort("other", f"{type(exc).__name__}: {exc}")
        if not self.started:
            self.begin()
        return self.result()


def _charset(headers: dict[str, list[str]]) -> str | None:
    for value in headers.get("content-type", [])[-1:]:
        for param in value.split(";")[1:]:
            key, _, charset = param.strip().partition("=")
            if key.lower() == "charset":
                return charset.strip('"\' ') or None
    return None


def _days_left(text: str) -> float | None:
    for form in ("%Y-%m-%d %H:%M:%S %Z", "%b %d %H:%M:%S %Y %Z"):
        with contextlib.suppress(ValueError):
            expires = datetime.datetime.strptime(" ".join(text.split()), form)
            now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
            return (expires - now).total_seconds() / 86400.0
    return None


_MISMATCH = re.compile(r"subject name matches target (?:ipv[46] address|host(?: name)?)"
                       r" '([^']*)'", re.I)
# "SSL certificate problem: X", "SSL certificate OpenSSL verify result: X (20)": X is
# OpenSSL's own wording of the fault.
_VERIFY = re.compile(r"^SSL certificate (?:problem|OpenSSL verify result): (.*?)(?: \(\d+\))?$")


def classify(code: int, message: str, easy: pycurl.Curl, check: Check) -> _Abort:
    """Map libcurl's error `code` (and its message) to one of the kind's reasons with a
    short detail, worded as the checks worded them before libcurl."""
    timeout = check.monitor.timeout
    if code == pycurl.E_OPERATION_TIMEDOUT:
        if message.startswith("Resolving timed out"):
            # A resolver that ate the whole budget is a DNS failure, not a slow site.
            return _Abort("dns", f"no answer from the resolver within {timeout:g} s")
        return _Abort("timeout", f"no complete answer within {timeout:g} s")
    if code == pycurl.E_COULDNT_RESOLVE_HOST:
        host = urlsplit(check.url).hostname or "?"
        return _Abort("dns", f"name does not resolve: {host}")
    if code == pycurl.E_PEER_FAILED_VERIFICATION:
        if found := _MISMATCH.search(message):
            what = "IP address" if "address" in message.lower() else "Hostname"
            return _Abort("tls", f"certificate: {what} mismatch, certificate is not valid"
                                 f" for '{found.group(1)}'.")
        found = _VERIFY.match(message)
        return _Abort("tls", f"certificate: {found.group(1) if found else message}")
    if code in (pycurl.E_SSL_CONNECT_ERROR, pycurl.E_SSL_CACERT_BADFILE,
                pycurl.E_SSL_CERTPROBLEM):
        return _Abort("tls", f"TLS: {message}")
    errno = easy.getinfo(pycurl.OS_ERRNO)
    if code == pycurl.E_COULDNT_CONNECT:
        if errno == 111:  # ECONNREFUSED
            return _Abort("connect", "connection refused")
        return _Abort("connect", os.strerror(errno) if errno else message)
    if code == pycurl.E_GOT_NOTHING:
        return _Abort("invalid_response", "connection closed without a response")
    if code in (pycurl.E_RECV_ERROR, pycurl.E_SEND_ERROR):
        if errno in (104, 32) or "reset by peer" in message:  # ECONNRESET, EPIPE
            return _Abort("connect", "connection reset by peer")
        if errno:
            return _Abort("connect", os.strerror(errno))
        return _Abort("invalid_response", f"broken response: {message}")
    if code == pycurl.E_PARTIAL_FILE:
        return _Abort("invalid_response", f"broken response: {message}")
    if code in (pycurl.E_UNSUPPORTED_PROTOCOL, 8, 100):  # 8: weird server reply, 100: too large
        return _Abort("invalid_response", f"malformed HTTP: {message}")
    if code in (pycurl.E_URL_MALFORMAT, 27):  # 27: out of memory, also a URL libcurl refuses
        return _Abort("invalid_response", message)
    return _Abort("other", f"curl error {code}: {message}")


# -- the event loop ----------------------------------------------------------------------


class _Sockets:
    """libcurl's socket and timer callbacks over one epoll. They do not hold the multi
    handle that holds them: a cycle through it would leave the handle to the garbage
    collector, and pycurl's teardown of a multi with a socket callback is unsafe."""

    def __init__(self) -> None:
        self.epoll = select.epoll()
        self.registered: set[int] = set()
        self.timer_at: float | None = None

    def on_socket(self, what: int, fd: int, multi: object, data: object) -> None:
        if what == pycurl.POLL_REMOVE:
            if fd in self.registered:
                self.registered.discard(fd)
                with contextlib.suppress(OSError, ValueError):  # closed already: gone
                    self.epoll.unregister(fd)
            return
        mask = ((select.EPOLLIN if what & pycurl.POLL_IN else 0)
                | (select.EPOLLOUT if what & pycurl.POLL_OUT else 0))
        try:
            if fd in self.registered:
                self.epoll.modify(fd, mask)
            else:
                self.epoll.register(fd, mask)
        except FileNotFoundError:  # closed and reused unseen: epoll forgot it
            self.epoll.register(fd, mask)
        except FileExistsError:
            self.epoll.modify(fd, mask)
        self.registered.add(fd)

    def on_timer(self, timeout_ms: int) -> None:
        self.timer_at = None if timeout_ms < 0 else time.monotonic() + timeout_ms / 1000.0


class _Engine:
    """A CurlMulti on the socket API over epoll, stepped by whoever owns it: the loop
    thread, or a blocking check in its own thread. Closed explicitly, at the latest when
    its owner lets go of it (a thread's engine when the thread ends)."""

    def __init__(self) -> None:
        self.multi = pycurl.CurlMulti()
        self.sockets = _Sockets()
        self.epoll = self.sockets.epoll
        self.active: dict[pycurl.Curl, Check] = {}
        self.multi.setopt(pycurl.M_SOCKETFUNCTION, self.sockets.on_socket)
        self.multi.setopt(pycurl.M_TIMERFUNCTION, self.sockets.on_timer)

    def close(self) -> None:
        if self.multi.closed:
            return
        for easy in list(self.active):
            self.drop(easy)
        # Closed while alive: libcurl's last socket callbacks then reach a live object.
        self.multi.close()
        self.epoll.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):  # at the interpreter's exit: nothing to tell
            self.close()

    def start(self, check: Check) -> CheckResult | None:
        """Start the check's current hop; its result if it ended before it began."""
        try:
            easy = check.hop()
        except _Abort as abort:
            check.abort = abort
            return check.result()
        self.active[easy] = check
        self.multi.add_handle(easy)
        return None

    def drop(self, easy: pycurl.Curl) -> Check | None:
        check = self.active.pop(easy, None)
        with contextlib.suppress(pycurl.error):
            self.multi.remove_handle(easy)
        easy.close()
        return check

    def step(self, wait: float) -> list[tuple[Check, CheckResult]]:
        """Wait up to `wait` seconds for sockets or libcurl's timer, act on them, and
        return the checks that ended."""
        now, sockets = time.monotonic(), self.sockets
        if sockets.timer_at is not None:
            wait = min(wait, max(0.0, sockets.timer_at - now))
        events = self.epoll.poll(wait)
        for fd, mask in events:
            if fd not in sockets.registered:
                continue  # the caller's own descriptors (the wake-up fd)
            flags = ((pycurl.CSELECT_IN if mask & (select.EPOLLIN | select.EPOLLHUP) else 0)
                     | (pycurl.CSELECT_OUT if mask & select.EPOLLOUT else 0)
                     | (pycurl.CSELECT_ERR if mask & select.EPOLLERR else 0))
            self.multi.socket_action(fd, flags)
        if sockets.timer_at is not None and time.monotonic() >= sockets.timer_at:
            sockets.timer_at = None
            self.multi.socket_action(pycurl.SOCKET_TIMEOUT, 0)
        return self.collect()

    def collect(self) -> list[tuple[Check, CheckResult]]:
        ended: list[tuple[Check, CheckResult]] = []
        while True:
            queued, ok, failed = self.multi.info_read()
            for easy, code, message in [(e, 0, "") for e in ok] + failed:
                check = self.active.pop(easy, None)
                self.multi.remove_handle(easy)
                if check is None:
                    easy.close()
                    continue
                try:
                    more = check.hop_ended(code, message)
                    result = self.start(check) if more else check.result()
                except Exception as exc:  # noqa: BLE001 - a bug here must not stop the loop
                    result = check.crashed(exc)
                if result is not None:
                    ended.append((check, result))
            if not queued:
                return ended


class CurlLoop:
    """One thread driving every http check of this process in flight; at most `limit` at
    once, the excess waiting in order."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self._inbox: collections.deque[Check] = collections.deque()
        self._waiting: collections.deque[Check] = collections.deque()
        self._stopping = False
        self._stopped = threading.Event()
        self._wake = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._thread = threading.Thread(target=self._run, name="curl-loop", daemon=True)
        self._thread.start()

    def submit(self, monitor: Monitor, lateness_ms: float, done: Done) -> None:
        self._inbox.append(Check(monitor, lateness_ms, done))
        os.eventfd_write(self._wake, 1)

    def stop(self, timeout: float = 2.0) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            os.eventfd_write(self._wake, 1)
        # Not a join: the loop's last act, closing its multi handle, waits for resolver
        # threads that may be stuck; the checks have all ended before that.
        self._stopped.wait(timeout)

    def _run(self) -> None:
        engine = _Engine()
        engine.epoll.register(self._wake, select.EPOLLIN)
        try:
            while not self._stopping:
                ended = engine.step(1.0)
                with contextlib.suppress(BlockingIOError):
                    os.eventfd_read(self._wake)
                while self._inbox:
                    self._waiting.append(self._inbox.popleft())
                self._finish(ended)
                while self._waiting and len(engine.active) < max(1, self.limit):
                    check = self._waiting.popleft()
                    check.begin()
                    try:
                        result = engine.start(check)
                    except Exception as exc:  # noqa: BLE001 - a bug here must not stop the loop
                        result = check.crashed(exc)
                    if result is not None:
                        self._finish([(check, result)])
                    ended = engine.collect()  # add_handle may have ended some at once
                    self._finish(ended)
        finally:
            # Stopping: the checks in flight and waiting end without a result.
            aborted = [*engine.active.values(), *self._waiting, *self._inbox]
            for easy in list(engine.active):
                engine.drop(easy)
            for check in aborted:
                self._call(check, None)
            self._stopped.set()
            os.close(self._wake)
            engine.close()

    def _finish(self, ended: list[tuple[Check, CheckResult]]) -> None:
        for check, result in ended:
            self._call(check, result)

    @staticmethod
    def _call(check: Check, result: CheckResult | None) -> None:
        if check.done is None:
            return
        try:
            check.done(result)
        except Exception:  # noqa: BLE001 - a failing receiver must not stop every check
            text = traceback.format_exc(limit=3)
            with contextlib.suppress(Exception):
                print(redact_known(f"check result handler failed: {text}"), file=sys.stderr)


# -- one check, blocking -----------------------------------------------------------------

TICK = 0.05  # how often a blocking check looks whether its deadline was aborted
_local = threading.local()


def run(monitor: Monitor, deadline: Deadline, trace: list[str] | None = None) -> CheckResult:
    """One check, blocking: cut short (any result; run_check then raises CheckAborted)
    when the deadline is aborted because the monitor is stopping."""
    return _blocking(Check(monitor, trace=trace), deadline)


def fetch(monitor: Monitor, deadline: Deadline, trace: list[str] | None = None,
          ) -> tuple[CheckResult, bytes]:
    """One check of an http monitor, blocking, as `run`, with the final answer's body (up
    to its maxBodyBytes; empty when the check failed): for kinds that look into pages."""
    check = Check(monitor, trace=trace, keep_body=True)
    result = _blocking(check, deadline)
    return result, b"".join(check.chunks) if result.available else b""


def _blocking(check: Check, deadline: Deadline) -> CheckResult:
    engine = getattr(_local, "engine", None)
    if engine is None:
        # One engine per thread, kept: closing a multi handle waits for its resolver
        # threads, and one may be stuck in getaddrinfo for as long as the C library likes.
        engine = _local.engine = _Engine()
    check.begin()
    result = engine.start(check)
    try:
        ended = engine.collect() if result is None else []
        while result is None and not ended:
            if deadline.aborted:
                check.abort = _Abort("timeout", "aborted")
                return check.result()
            ended = engine.step(TICK)
        return result if result is not None else ended[0][1]
    finally:
        for easy in list(engine.active):
            engine.drop(easy)


def debug(monitor: Monitor) -> tuple[CheckResult, list[str]]:
    """One check with a trace of what happened, for people: each hop's URL (masked), the
    address reached, phase times, status line, headers (secret ones masked), certificate,
    then the verdict."""
    trace: list[str] = []
    deadline = Deadline(time.monotonic() + monitor.timeout, monitor.timeout)
    result = run(monitor, deadline, trace)
    return result, trace + verdict_lines(result)

