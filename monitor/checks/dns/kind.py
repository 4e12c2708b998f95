"""The `dns` kind: one query for a name's records of one type, to a given server or to the
system's nameservers, dnspython doing the protocol. Up when the answer is NOERROR with
records of that type (after the answer's CNAMEs) holding every `expect` value.

Keys: `host` (the DNS name asked for; `name` is only the label), `record` (default A),
`server` (an IP address; default the nameservers of /etc/resolv.conf), `port` (with
`server`, default 53), `expect` (a value or a list of values the answer must hold), `tcp`
(ask over TCP only; default UDP, and TCP when the answer is truncated).

spec.py reads the keys, ask.py asks the servers, judge.py reads the answer."""

from __future__ import annotations

import time

from monitor.checks.dns.ask import ask
from monitor.checks.dns.judge import judge
from monitor.checks.dns.spec import (
    KEYS,
    DnsSpec,
    parse,
    plugin,
)
from monitor.checks.trace import debugger
from monitor.checks.trace import detail as trace_detail
from monitor.core import schemas
from monitor.core.deadline import Deadline
from monitor.core.kind import Kind
from monitor.core.model import CheckResult, Monitor

REASONS = ("nxdomain", "servfail", "dns_error", "no_answer", "assertion", "timeout",
           "connect", "invalid_response", "other")
# ms from the first query sent to the answer (every answer, whatever its code): not "dns",
# which in the http, tcp and tls kinds is the name lookup before a connection.
METRIC = "query"


def run(monitor: Monitor, deadline: Deadline) -> CheckResult:
    return check(monitor, deadline, None)


def check(monitor: Monitor, deadline: Deadline, trace: list[str] | None) -> CheckResult:
    """One check: the question asked (ask), the answer judged (judge)."""
    spec: DnsSpec = monitor.spec
    started, mono = time.time(), time.monotonic()
    outcome = ask(spec, deadline, trace)
    if outcome.response is None:
        return _result(monitor, started, mono, None, outcome.reason, outcome.detail)
    verdict = judge(spec, outcome.response, outcome.server, trace)
    return _result(monitor, started, mono, verdict.code, verdict.reason, verdict.detail,
                   outcome.seconds)


def _result(monitor: Monitor, started: float, mono: float, code: int | None,
            reason: str | None, detail: str, seconds: float | None = None) -> CheckResult:
    """Up when there is no reason; the query time when an answer came."""
    elapsed = (time.monotonic() - mono) * 1000
    metrics = {"total": elapsed} if seconds is None else {METRIC: seconds * 1000,
                                                          "total": elapsed}
    # An answer's values (64 KB of TXT, control characters) shown as any kind's detail.
    return CheckResult(monitor.id, started, reason is None, code, elapsed, reason,
                       trace_detail(detail, monitor.secrets), mono=mono, metrics=metrics)


# One check with its trace: the question, each server asked and how, the answer's code,
# flags and records, the expected values found or not, then the verdict.
debug = debugger(check)

HELP = {
    "host": ("required", "the DNS name asked for (IDNA for non-ASCII: `bücher.example` is asked"
                         " as `xn--bcher-kva.example`), always as an absolute name: no search"
                         " domains, no /etc/hosts"),
    "record": ("`A`", "the record type, any dnspython knows (`A`, `AAAA`, `CNAME`, `MX`, `TXT`,"
                      " `NS`, `SOA`, `SRV`, `CAA`, `PTR`, `HTTPS`, `TYPE65`...); any case;"
                      " query meta-types (`ANY`, `AXFR`...) are refused"),
    "server": ("the system's nameservers", "the IP address (not a host name) of the DNS server"
                                           " to ask; without it, the nameservers of"
                                           " /etc/resolv.conf, in their order"),
    "port": ("53", "the server's port; only with `server`"),
    "expect": ("none", "a value or a list of values that must all be in the answer, compared as"
                       " values (addresses as addresses, names without case or final dot, MX as"
                       " `10 mail.example.com`, TXT as its strings joined); each is parsed when"
                       " the config is read"),
    "tcp": ("`false`", "ask over TCP only; otherwise UDP, and TCP when the answer comes"
                       " truncated"),
}
SCHEMA = {
    "host": schemas.text(),
    "record": schemas.text(),
    "server": {"type": "string", "pattern": r"^\s*[0-9A-Fa-f:.]+\s*$"},
    "port": schemas.port(),
    "expect": schemas.strings(),
    "tcp": schemas.boolean(),
}

KIND = Kind(
    name="dns",
    keys=KEYS,
    parse=parse,
    reasons=REASONS,
    run=run,
    network=True,
    # An answer, even SERVFAIL, proves the network works: only silence or an unreachable
    # server can be the monitor's own loss of network.
    network_reasons=frozenset({"timeout", "connect"}),
    debug=debug,
    plugin=plugin,
    help=HELP,
    schema=SCHEMA,
)

__all__ = ["KIND", "METRIC", "REASONS", "check", "debug", "run"]
