"""The `tls` kind: connect to `host`:`port`, complete a TLS handshake (SNI `serverName`,
the certificate verified unless `tlsVerify` is false), and judge the days left of the
server's certificate against `tlsMinDaysLeft` (warn) and `tlsFailDaysLeft` (fail). For
TLS services that are not HTTP (SMTPS, IMAPS, LDAPS, a database), and, named in `plugins`,
for every https site.

A certificate that has expired fails OpenSSL's verification, which says only "certificate
has expired", and gives no certificate to read. So on that one verification error the
check connects a second time, to the same address (not a fresh lookup, which may give
another server of a round robin), without verification, reads the server's certificate,
and when the server's own certificate is the expired one, reports `tls_expiry`
("certificate expired 1.0 days ago") with its days left recorded. Verification was not skipped: the
first handshake proved everything OpenSSL checks before the dates (the chain to a trusted
root, the name), and a chain certificate that expired, rather than the server's own, stays
a `tls` failure.
"""

from __future__ import annotations

import datetime
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from monitor.checks import certs, net
from monitor.checks.trace import debugger, quoted
from monitor.core import schemas
from monitor.core.deadline import Deadline
from monitor.core.fields import Fields
from monitor.core.kind import Kind, Parsed
from monitor.core.model import CONNECTION_REASONS, CheckResult, Monitor

KEYS = ("host", "port", "serverName", "tlsVerify", "caFile", *certs.KEYS)
REASONS = ("dns", "connect", "tls", certs.REASON, "timeout", "other")
DEFAULT_PORT = 443
HELP = {
    "host": ("required", "a host name or an IP address (IPv6 without brackets)"),
    "port": ("443", "1 to 65535"),
    "serverName": ("the host", "the name sent by SNI and checked against the certificate; for"
                               " an IP address without it, no SNI is sent and the certificate"
                               " must name that address"),
    "tlsVerify": ("`true`", "`false` accepts any certificate (the days left are judged all"
                            " the same)"),
    "caFile": ("system CAs", "a PEM file of CA certificates to trust instead, relative to the"
                             " config file"),
    **certs.HELP,
}
SCHEMA = {"host": schemas.host(), "port": schemas.port(), "serverName": schemas.text(),
          "tlsVerify": schemas.boolean(), "caFile": schemas.text(), **certs.SCHEMA}
EXPIRED = 10  # X509_V_ERR_CERT_HAS_EXPIRED
_SSL_SOURCE = re.compile(r"\s*\(_ssl\.c:\d+\)$")  # where in CPython the error was raised


@dataclass(frozen=True)
class TlsSpec:
    host: str
    port: int = DEFAULT_PORT
    server_name: str | None = None  # None: the host
    verify: bool = True
    ca_file: str | None = None  # None: the system's CAs
    expiry: certs.Expiry = certs.Expiry()

    @property
    def name(self) -> str:
        """The name sent by SNI and checked against the certificate (an IP address is
        checked against the certificate's IP addresses, and not sent)."""
        return self.server_name or self.host


def parse(fields: Fields, entry: Mapping[str, Any], path: str,
          defaults: Mapping[str, Any]) -> Parsed:
    obj = dict(entry)
    host = fields.host(obj, "host", f"{path}.host")
    assert host is not None  # required
    port = fields.port(obj, "port", f"{path}.port", DEFAULT_PORT)
    spec = TlsSpec(
        host=host,
        port=port,
        server_name=fields.host(obj, "serverName", f"{path}.serverName", required=False),
        verify=fields.boolean(obj, "tlsVerify", f"{path}.tlsVerify", True),
        ca_file=fields.ca_file(obj, f"{path}.caFile"),
        expiry=certs.parse(fields, obj, path, defaults),
    )
    return Parsed(spec=spec, target=net.address(host, port))


def plugin(site: Monitor, defaults: Mapping[str, Any]) -> Parsed | None:
    """The certificate of an https site: its host and port (443 by default), and the
    site's own `tlsVerify`, `caFile` and expiry thresholds (its `tlsMinDaysLeft` and
    `tlsFailDaysLeft`, else the top level's); None for http://."""
    parts = urlsplit(site.spec.url)
    if parts.scheme.lower() != "https" or not parts.hostname:
        return None
    host, port = parts.hostname, parts.port or DEFAULT_PORT
    spec = TlsSpec(host=host, port=port, server_name=host, verify=site.spec.tls_verify,
                   ca_file=site.spec.ca_file, expiry=site.spec.expiry)
    # The host and port only: the URL's credentials and path stay with the site.
    return Parsed(spec=spec, target=net.address(host, port))


# -- contexts ----------------------------------------------------------------------------

# Loading the system's CAs costs milliseconds: one context per setting, shared by every
# check (a context is safe to share between threads). A CA file is keyed by its size and
# time too, so that a renewed file is read again. Contexts cache no session: every check
# makes a full handshake.
_contexts: dict[tuple[Any, ...], ssl.SSLContext] = {}
_contexts_lock = threading.Lock()
MAX_CONTEXTS = 64


def context(verify: bool, ca_file: str | None) -> ssl.SSLContext:
    if not verify:
        key: tuple[Any, ...] = (False,)
    elif ca_file is None:
        key = (True, None)
    else:
        stat = os.stat(ca_file)
        key = (True, ca_file, stat.st_mtime_ns, stat.st_size)
    with _contexts_lock:
        found = _contexts.get(key)
    if found is not None:
        return found
    if verify:
        made = ssl.create_default_context(cafile=ca_file)
    else:
        made = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        made.check_hostname = False
        made.verify_mode = ssl.CERT_NONE
    with _contexts_lock:
        if len(_contexts) >= MAX_CONTEXTS:
            _contexts.clear()
        return _contexts.setdefault(key, made)


# -- the certificate ---------------------------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    subject: str
    issuer: str
    names: tuple[str, ...]  # subjectAltName entries, "DNS:example.com", "IP:10.0.0.1"
    not_after: datetime.datetime  # aware, UTC


def read_certificate(der: bytes) -> Certificate:
    """The parts of a DER certificate the check reports (with `cryptography`, which reads
    a certificate OpenSSL did not verify; getpeercert() is empty then)."""
    # Imported on first use: a config without tls never pays for it (docs/performance.md).
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    names: list[str] = []
    try:
        alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        pass
    else:
        names += [f"DNS:{name}" for name in alt.get_values_for_type(x509.DNSName)]
        names += [f"IP:{ip}" for ip in alt.get_values_for_type(x509.IPAddress)]
    return Certificate(subject=cert.subject.rfc4514_string(),
                       issuer=cert.issuer.rfc4514_string(), names=tuple(names),
                       not_after=cert.not_valid_after_utc)


def _certificate(tls: ssl.SSLSocket) -> Certificate:
    der = tls.getpeercert(binary_form=True)
    if not der:
        raise net.Failure("tls", "the server sent no certificate")
    try:
        return read_certificate(der)
    except Exception as exc:  # noqa: BLE001 - OpenSSL took it, cryptography cannot read it
        # ValueError, x509.DuplicateExtension...: a certificate reported, never a crash.
        raise net.Failure("tls", f"certificate not readable: {type(exc).__name__}: {exc}"
                          ) from None


def _trace_certificate(cert: Certificate, days: float, trace: list[str] | None) -> None:
    if trace is None:
        return
    trace.append(f"certificate subject: {cert.subject or '(empty)'}")
    trace.append(f"certificate issuer: {cert.issuer or '(empty)'}")
    trace.append(f"certificate names: {', '.join(cert.names) or '(none)'}")
    when = cert.not_after.strftime("%Y-%m-%d %H:%M:%S UTC")
    left = f"{days:.1f} days left" if days >= 0 else f"expired {-days:.1f} days ago"
    trace.append(f"certificate notAfter: {when} ({left})")


# -- one check ---------------------------------------------------------------------------


def _handshake(sock: socket.socket, ctx: ssl.SSLContext, name: str, deadline: Deadline,
               metrics: dict[str, float] | None, trace: list[str] | None) -> ssl.SSLSocket:
    """The TLS handshake on connected `sock` (which the returned socket now owns).
    Raises ssl.SSLCertVerificationError as it is, and Failure for any other fault."""
    start = time.monotonic()
    try:
        # Checked first: wrap_socket takes the socket's descriptor over before it encodes
        # the name, and would hold it in a socket nobody can close.
        if not net.is_ip(name):
            name.encode("idna")
        tls = ctx.wrap_socket(sock, server_hostname=name, do_handshake_on_connect=False)
    except ValueError as exc:  # UnicodeError: an empty label, one over 63 characters
        sock.close()
        raise net.Failure("other", f"server name {quoted(name)} cannot be sent: {exc}"
                          ) from None
    except BaseException:
        sock.close()
        raise
    late = f"no TLS handshake within {deadline.timeout:g} s"
    try:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                net.wait(tls, False, deadline, late)
            except ssl.SSLWantWriteError:
                net.wait(tls, True, deadline, late)
    except ssl.SSLCertVerificationError:
        tls.close()
        raise
    except (ssl.SSLEOFError, ssl.SSLZeroReturnError):
        tls.close()
        raise net.Failure("tls", "the connection closed during the TLS handshake") from None
    except (ConnectionResetError, BrokenPipeError):
        tls.close()
        raise net.Failure("tls", "the connection was reset during the TLS handshake"
                          ) from None
    except ssl.SSLError as exc:
        tls.close()
        raise net.Failure("tls", f"TLS handshake failed: {_SSL_SOURCE.sub('', str(exc))}"
                          ) from None
    except BaseException:
        tls.close()
        raise
    if metrics is not None:
        metrics["tls"] = net.ms_since(start)
    if trace is not None:
        cipher = tls.cipher()
        shown = f"{cipher[0]} ({cipher[2]} bits)" if cipher else "?"
        trace.append(f"{tls.version()}, cipher {shown}, handshake"
                     f" {net.ms_since(start):.1f} ms")
    return tls


def run(monitor: Monitor, deadline: Deadline) -> CheckResult:
    return check(monitor, deadline)


def check(monitor: Monitor, deadline: Deadline, trace: list[str] | None = None,
          lookup: net.Lookup = socket.getaddrinfo) -> CheckResult:
    """One check, blocking, within `deadline`; `trace` collects lines for people."""
    spec: TlsSpec = monitor.spec
    timestamp, started = time.time(), time.monotonic()
    metrics: dict[str, float] = {}
    code: int | None = None

    def ended(reason: str | None = None, detail: str = "", warning: bool = False
              ) -> CheckResult:
        return net.result(monitor, timestamp, started, code=code, reason=reason,
                          detail=detail, warning=warning, metrics=metrics)

    try:
        try:
            ctx = context(spec.verify, spec.ca_file)
        except (OSError, ssl.SSLError) as exc:
            why = _SSL_SOURCE.sub("", getattr(exc, "strerror", None) or str(exc))
            return ended("other", f"cannot load caFile {spec.ca_file}: {why}")
        sock = net.connect(spec.host, spec.port, deadline, metrics, trace, lookup)
        # The address reached: a second handshake (reading an expired certificate) goes to
        # this server, not to whichever a new lookup gives.
        try:
            peer: net.AddrInfo = (sock.family, sock.type, sock.proto, "", sock.getpeername())
        except OSError:  # reset already (ENOTCONN): reported below, the socket closed
            sock.close()
            raise
        if trace is not None:
            sni = " (an IP address: no SNI)" if net.is_ip(spec.name) else ""
            trace.append(f"TLS handshake with server name {spec.name}{sni}")
        try:
            tls = _handshake(sock, ctx, spec.name, deadline, metrics, trace)
        except ssl.SSLCertVerificationError as exc:
            code = 0  # the server answered, with a certificate that fails verification
            return ended(*_refused(spec, exc, deadline, metrics, trace, peer))
        code = 0
        with tls:
            cert = _certificate(tls)
        if trace is not None and not spec.verify:
            trace.append("certificate not verified (tlsVerify is false)")
        elif trace is not None:
            trace.append("certificate verified against " + (
                f"caFile {spec.ca_file}" if spec.ca_file else "the system's CAs"))
        days = certs.days_left(cert.not_after)
        metrics[certs.METRIC] = days
        _trace_certificate(cert, days, trace)
    except net.Failure as exc:
        return ended(exc.reason, exc.detail)
    except OSError as exc:  # no step expects it: an ICMP error, out of file descriptors...
        failure = net.unexpected(exc)
        return ended(failure.reason, failure.detail)
    judged = spec.expiry.verdict(days)
    if judged is None:
        return ended()
    state, detail = judged
    return ended(certs.REASON, detail, warning=state == "warning")


def _refused(spec: TlsSpec, exc: ssl.SSLCertVerificationError, deadline: Deadline,
             metrics: dict[str, float], trace: list[str] | None, peer: net.AddrInfo,
             ) -> tuple[str, str]:
    """The reason and detail of a certificate that failed verification: `tls`, or
    `tls_expiry` when the server's own certificate has expired (read by a second,
    unverified handshake with the same address, `peer`). `check NAME` reads the
    certificate whatever the fault, to show it."""
    problem = exc.verify_message or _SSL_SOURCE.sub("", str(exc))
    if trace is not None:
        trace.append(f"certificate verification failed: {problem}")
    refused = ("tls", f"certificate: {problem}")
    if exc.verify_code != EXPIRED and trace is None:
        return refused
    try:
        if trace is not None:
            trace.append(f"connecting again to {peer[4][0]} without verification to read"
                         " the certificate")
        sock = net.connect_any([peer], deadline, {}, None)
        with _handshake(sock, context(False, None), spec.name, deadline, None, None) as tls:
            cert = _certificate(tls)
    except (net.Failure, OSError) as error:
        if trace is not None:
            detail = error.detail if isinstance(error, net.Failure) else str(error)
            trace.append(f"  could not: {detail}")
        return refused
    days = certs.days_left(cert.not_after)
    metrics[certs.METRIC] = days
    _trace_certificate(cert, days, trace)
    if exc.verify_code == EXPIRED and days < 0:
        judged = spec.expiry.verdict(days)
        assert judged is not None  # below 0, below any tlsFailDaysLeft
        return certs.REASON, judged[1]
    if exc.verify_code == EXPIRED:
        return "tls", f"certificate: {problem} (one of its chain, not the server's own)"
    return refused


# One check with its trace: the address, the TLS version and cipher, the certificate
# (subject, issuer, names, notAfter and days left); then the verdict.
debug = debugger(check)


KIND = Kind(
    name="tls",
    keys=KEYS,
    parse=parse,
    reasons=REASONS,
    run=run,
    network=True,
    # A handshake that failed on the certificate proves the network works.
    network_reasons=CONNECTION_REASONS,
    top_keys=certs.KEYS,
    defaults=certs.defaults,
    debug=debug,
    plugin=plugin,
    help=HELP,
    schema=SCHEMA,
)
