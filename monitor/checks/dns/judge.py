"""What an answer means: its code made a reason, its CNAMEs followed to the records of the
type asked for, and those records held against `expect`; the answer as the trace shows it."""

from __future__ import annotations

from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdata
import dns.rdatatype
import dns.rrset

from monitor.checks.dns.spec import QUOTED, TEXT_TYPES, DnsSpec, shown_name, why
from monitor.checks.trace import printable, quoted

MAX_SHOWN = 5  # answer values quoted in an assertion's detail
MAX_TRACE = 40  # records per section in the trace


@dataclass(frozen=True)
class Verdict:
    """An answer judged: up when `reason` is None; `code` is the answer's rcode when there
    is one to trust."""

    code: int | None
    reason: str | None = None
    detail: str = ""


def judge(spec: DnsSpec, response: dns.message.Message, where: str,
          trace: list[str] | None) -> Verdict:
    """The verdict on `response`, an answer from `where` (as shown) to the spec's question;
    the trace gets the answer and each `expect` value found or missing."""
    trace_answer(trace, response)
    rcode = response.rcode()
    code = int(rcode)
    if rcode == dns.rcode.NXDOMAIN:
        return Verdict(code, "nxdomain", f"no such name (NXDOMAIN from {where})")
    if rcode == dns.rcode.SERVFAIL:
        return Verdict(code, "servfail", f"SERVFAIL from {where}")
    if rcode != dns.rcode.NOERROR:
        return Verdict(code, "dns_error", f"{dns.rcode.to_text(rcode)} from {where}")
    try:
        if not isinstance(response, dns.message.QueryMessage):
            raise dns.exception.FormError("not an answer to a query")
        chain = response.resolve_chaining()
    except dns.exception.DNSException as exc:
        # An answer came, unusable (a CNAME loop): timed, but no code to trust.
        return Verdict(None, "invalid_response", f"from {where}: {why(exc)}")
    records: dns.rrset.RRset | None = chain.answer
    if records is None:
        via = f" (CNAME to {shown_name(chain.canonical_name)})" if chain.cnames else ""
        return Verdict(code, "no_answer", f"no {dns.rdatatype.to_text(spec.rdtype)}"
                       f" record{via} (NOERROR from {where})")
    return _expect(spec, records, code, trace)


def _expect(spec: DnsSpec, records: dns.rrset.RRset, code: int,
            trace: list[str] | None) -> Verdict:
    missing = []
    for written, wanted in zip(spec.expect, spec.wanted, strict=True):
        found = any(_matches(wanted, rdata) for rdata in records)
        if trace is not None:
            trace.append(f"expect {quoted(written, QUOTED)}: {'found' if found else 'MISSING'}")
        if not found:
            missing.append(quoted(written, QUOTED))
    if not missing:
        return Verdict(code)
    got = [_value(rdata) for rdata in records]
    more = f", ... ({len(got)} in all)" if len(got) > MAX_SHOWN else ""
    return Verdict(code, "assertion", f"expect {', '.join(missing)}: got"
                   f" {', '.join(got[:MAX_SHOWN])}{more}")


def trace_answer(trace: list[str] | None, response: dns.message.Message) -> None:
    """The answer's code and flags, then its records section by section."""
    if trace is None:
        return
    flags = dns.flags.to_text(response.flags).lower()
    trace.append(f"answer: {dns.rcode.to_text(response.rcode())}, flags {flags}")
    for title, section in (("answer", response.answer), ("authority", response.authority),
                           ("additional", response.additional)):
        # One record a line, shortened: a TXT record may hold 64 KB.
        lines = [printable(line) for rrset in section for line in rrset.to_text().splitlines()]
        trace += [f"  {title}: {line}" for line in lines[:MAX_TRACE]]
        if len(lines) > MAX_TRACE:
            trace.append(f"  {title}: ... {len(lines) - MAX_TRACE} more")


def _matches(wanted: str | dns.rdata.Rdata, rdata: dns.rdata.Rdata) -> bool:
    if isinstance(wanted, str):
        return _text(rdata) == wanted
    return rdata == wanted


def _text(rdata: dns.rdata.Rdata) -> str:
    """A TXT record's strings joined, as the value they make (SPF, DKIM keys)."""
    return b"".join(rdata.strings).decode("utf-8", "replace")  # type: ignore[attr-defined]


def _value(rdata: dns.rdata.Rdata) -> str:
    return quoted(_text(rdata), QUOTED) if rdata.rdtype in TEXT_TYPES else rdata.to_text()
