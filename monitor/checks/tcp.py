"""The `tcp` kind: connect to `host`:`port`; optionally send `send`, and read until the
answer (or the banner the server sends first) matches the regular expression `expect`."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.checks import net
from monitor.checks.trace import debugger, quoted
from monitor.core import schemas
from monitor.core.deadline import Deadline
from monitor.core.fields import Fields, encodable
from monitor.core.kind import Kind, Parsed
from monitor.core.model import CONNECTION_REASONS, CheckResult, Monitor
from monitor.core.secrets import redact, secret_set

KEYS = ("host", "port", "send", "expect")
HELP = {
    "host": ("required", "a host name (labels of 1 to 63 characters) or an IP address (IPv6"
                         " without brackets: `\"::1\"`)"),
    "port": ("required", "1 to 65535"),
    "send": ("none", "text sent once connected, as UTF-8 (JSON's escapes write control"
                     " characters: `\"PING\\r\\n\"`). A value from `${NAME}` is a secret:"
                     " masked in every detail and trace, even when the server echoes it"),
    "expect": ("none", "a regular expression (Python's) searched for in what is received,"
                       " decoded as UTF-8; `^` anchors at the first byte received"),
}
SCHEMA = {"host": schemas.host(), "port": schemas.port(),
          "send": {"type": "string", "minLength": 1}, "expect": schemas.regex()}
REASONS = ("dns", "connect", "timeout", "assertion", "other")
# What is read looking for `expect`: a banner or an answer is a line or a few, and a
# server that streams must not make the check hold megabytes.
MAX_READ = 64 * 1024
READ_SIZE = 16 * 1024  # per recv: a banner is a few dozen bytes


@dataclass(frozen=True)
class TcpSpec:
    host: str
    port: int
    # Sent as UTF-8; may hold values from ${VAR} (then in the monitor's secrets).
    send: str | None = field(default=None, repr=False)
    expect: re.Pattern[str] | None = None


def parse(fields: Fields, entry: Mapping[str, Any], path: str,
          defaults: Mapping[str, Any]) -> Parsed:
    obj = dict(entry)
    host = fields.host(obj, "host", f"{path}.host")
    assert host is not None  # required
    port = fields.port(obj, "port", f"{path}.port")
    send = None
    before = len(fields.expanded)
    if "send" in obj:
        value = obj["send"]
        if not isinstance(value, str) or not value:
            raise fields.fail(f"{path}.send", "must be a non-empty string")
        # Escapes ("\r\n", "\u0000") are JSON's own: the string is sent as it reads.
        send = fields.expand(value, f"{path}.send")
        if not encodable(send):
            raise fields.fail(f"{path}.send", "must not contain unpaired surrogates")
    spec = TcpSpec(host=host, port=port, send=send,
                   expect=fields.regex(obj, "expect", f"{path}.expect"))
    # Only what `send` took from the environment is secret (a password in an AUTH line);
    # the host is shown, as the http kind shows a URL's host.
    return Parsed(spec=spec, target=net.address(host, port),
                  secrets=secret_set(fields.expanded[before:]))


def run(monitor: Monitor, deadline: Deadline) -> CheckResult:
    return check(monitor, deadline)


def check(monitor: Monitor, deadline: Deadline, trace: list[str] | None = None,
          lookup: net.Lookup = socket.getaddrinfo) -> CheckResult:
    """One check, blocking, within `deadline`; `trace` collects lines for people."""
    spec: TcpSpec = monitor.spec
    timestamp, started = time.time(), time.monotonic()
    metrics: dict[str, float] = {}
    code: int | None = None
    try:
        sock = net.connect(spec.host, spec.port, deadline, metrics, trace, lookup)
        code = 0  # connected: the service answered
        with sock:
            if spec.send is not None:
                data = spec.send.encode("utf-8")
                net.send_all(sock, data, deadline)
                if trace is not None:
                    shown = redact(spec.send, monitor.secrets)
                    trace.append(f"sent {len(data)} bytes: {quoted(shown, 200)}")
            if spec.expect is not None:
                _expect(sock, spec.expect, deadline, monitor, trace)
    except net.Failure as exc:
        return net.result(monitor, timestamp, started, code=code, reason=exc.reason,
                          detail=exc.detail, metrics=metrics)
    except OSError as exc:  # no step expects it: an ICMP error, out of file descriptors...
        failure = net.unexpected(exc)
        return net.result(monitor, timestamp, started, code=code, reason=failure.reason,
                          detail=failure.detail, metrics=metrics)
    return net.result(monitor, timestamp, started, code=code, metrics=metrics)


def _expect(sock: socket.socket, expect: re.Pattern[str], deadline: Deadline,
            monitor: Monitor, trace: list[str] | None) -> None:
    """Read until what was received matches `expect`; Failure("assertion") when it cannot
    any more (the peer closed, MAX_READ read, or the time is up with something received)."""
    received = bytearray()

    def text() -> str:
        # Decoded whole each time: a character split across two reads decodes right.
        return received.decode("utf-8", "replace")

    def failed(why: str) -> net.Failure:
        got = redact(text(), monitor.secrets)
        if trace is not None:
            trace.append(f"received {len(received)} bytes: {quoted(got, 200)}")
        return net.Failure("assertion", f"{_wanted(expect)}: got"
                                        f" {quoted(got) if got else 'nothing'} ({why})")

    while True:
        try:
            chunk = sock.recv(min(READ_SIZE, MAX_READ - len(received)))
        except BlockingIOError:
            try:
                net.wait(sock, False, deadline, f"no answer within {deadline.timeout:g} s")
            except net.Failure:
                # Something came but not what was expected: the network works, the
                # service says the wrong thing.
                if received and not deadline.aborted:
                    raise failed(f"no match within {deadline.timeout:g} s") from None
                raise
            continue
        except ConnectionResetError:
            raise net.Failure("connect", "connection reset by peer") from None
        if not chunk:
            raise failed("connection closed")
        received += chunk
        found = expect.search(text())
        if found:
            if trace is not None:
                trace.append(f"received {len(received)} bytes: "
                             f"{quoted(redact(text(), monitor.secrets), 200)}")
                trace.append(f"{_wanted(expect)}: matched "
                             f"{quoted(redact(found.group(0), monitor.secrets), 100)}")
            return
        if len(received) >= MAX_READ:
            raise failed(f"no match in the first {MAX_READ // 1024} KiB")


def _wanted(expect: re.Pattern[str]) -> str:
    return f"expect {quoted(expect.pattern, 100)}"


# One check with its trace: the address, the connect time, what was sent (secrets
# masked) and received, whether it matched; then the verdict.
debug = debugger(check)


KIND = Kind(
    name="tcp",
    keys=KEYS,
    parse=parse,
    reasons=REASONS,
    run=run,
    network=True,
    # A wrong answer proves the network works: only these can be its loss.
    network_reasons=CONNECTION_REASONS,
    debug=debug,
    help=HELP,
    schema=SCHEMA,
)
