"""The `dns` kind: its keys and their errors, each verdict against a real DNS server on
loopback (tests/support/dns_server.py), the system resolver's path through a resolv.conf of the
test's, the trace, the plugin hook, and `check NAME` through the real program."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest

from bench.kind_dns import CASES as BENCH_CASES
from monitor.checks import registry
from monitor.checks.dns.ask import system_nameservers
from monitor.checks.dns.spec import DnsSpec, dns_monitor, make_spec
from monitor.checks.execute import run_check
from monitor.checks.http.spec import http_monitor
from monitor.config import parse_config
from monitor.core.deadline import Deadline
from monitor.core.errors import ConfigError
from tests.support.app import ROOT, run_app
from tests.support.config import config_error
from tests.support.dns_server import (
    GARBAGE,
    NXDOMAIN,
    REFUSED,
    SERVFAIL,
    SILENCE,
    DnsServer,
    Entry,
    closed_udp_port,
)

KIND = registry.get("dns")
TABLE = {
    "example.com": {"A": ["192.0.2.1", "192.0.2.2"], "AAAA": ["2001:db8::1"],
                    "MX": ["10 Mail.Example.com", "20 backup.example.com"],
                    "TXT": ['"v=spf1 include:_spf.example.com " "-all"'],
                    "NS": ["ns1.example.com"]},
    "www.example.com": {"CNAME": ["example.com"]},
    "mail.example.com": {"CNAME": ["elsewhere.example.net"]},  # out of the table's zone
    "gone.example.com": NXDOMAIN,
    "broken.example.com": SERVFAIL,
    "closed.example.com": REFUSED,
    "quiet.example.com": SILENCE,
    "junk.example.com": GARBAGE,
    "big.example.com": Entry(records={"A": ["192.0.2.9"]}, truncate=True),
    "many.example.com": {"A": [f"192.0.2.{i}" for i in range(10, 17)]},
}


@pytest.fixture(scope="module")
def server():
    with DnsServer(TABLE) as running:
        yield running
    assert not running.errors


def at(server: DnsServer, name: str, record: str = "A", timeout: float = 1.0, **spec):
    return dns_monitor(name, record, server=server.host, port=server.port, timeout=timeout,
                       **spec)


def check(monitor):
    return KIND.run(monitor, Deadline(time.monotonic() + monitor.timeout, monitor.timeout))


def asked(server: DnsServer, name: str) -> list[str]:
    """The transports of the queries the server got for `name`, in order."""
    return [transport for transport, seen, _ in server.queries if seen == name]


# --- config -------------------------------------------------------------------------------

def one(**entry):
    return parse_config(json.dumps({"websites": [{"type": "dns", **entry}]})).monitors[0]


def error_of(**entry) -> str:
    return config_error(one, **entry).removeprefix("config.json: websites[0].")


def config_of(*entries: dict):
    return parse_config(json.dumps({"websites": [{"type": "dns", **e} for e in entries]}))


def test_a_host_alone_asks_the_system_for_its_a_records():
    monitor = one(host="Example.COM")
    assert (monitor.kind, monitor.target, monitor.id) == ("dns", "A example.com",
                                                          "dns:A example.com")
    assert monitor.name == ""  # no label: shown by its target
    spec = monitor.spec
    assert (spec.server, spec.port, spec.tcp, spec.expect) == (None, 53, False, ())
    assert str(spec.name) == "Example.COM."


def test_a_name_is_only_the_label_beside_host():
    config = config_of({"host": "example.com", "name": "our apex", "record": "MX"})
    monitor = config.monitors[0]
    assert (monitor.name, monitor.target, monitor.id) == ("our apex", "MX example.com",
                                                          "dns:MX example.com")
    assert str(monitor.spec.name) == "example.com."
    assert config.warnings == ()
    # A label need not be a DNS name, and naming it otherwise asks the same.
    assert one(host="example.com", name="apex (prod)").id == "dns:A example.com"


def test_the_old_spelling_asks_for_its_name_with_one_warning():
    # Before `host`, `name` was both the name asked for and the label: still so, and the
    # id, which keys the monitor's history in the database, is the one it always had.
    config = config_of({"name": "Example.COM"},
                       {"name": "example.org", "record": "MX", "id": "mx"})
    old, mx = config.monitors
    assert (old.kind, old.target, old.id) == ("dns", "A example.com", "dns:A example.com")
    assert old.name == "Example.COM"  # the label, as written
    assert str(old.spec.name) == "Example.COM."
    assert (mx.id, mx.target, mx.name) == ("mx", "MX example.org", "example.org")
    assert config.warnings == tuple(
        f'config.json: websites[{i}]: dns: "name" as the name to query is deprecated; put it'
        ' in "host" ("name" is then only the label)' for i in (0, 1))


def test_old_and_new_spellings_make_the_same_id():
    for entry in ({}, {"record": "TXT", "server": "192.0.2.53", "port": 5353, "tcp": True}):
        old, new, labelled = config_of({"name": "example.org", **entry},
                                       {"host": "example.org", **entry, "id": "x"},
                                       {"host": "example.org.", **entry, "name": "t",
                                        "id": "y"}).monitors
        assert old.spec == new.spec == labelled.spec
        assert old.id == f"dns:{new.target}" == f"dns:{labelled.target}"
    assert one(name="example.org").id == one(host="example.org").id == "dns:A example.org"
    # Two of them are one monitor: the error names both places and the fix.
    with pytest.raises(ConfigError) as exc:
        config_of({"name": "example.org"}, {"host": "example.org", "name": "label"})
    assert str(exc.value) == (
        'config.json: websites[1].host: duplicate of websites[0].name: both make the id'
        ' "dns:A example.org"; give one of them an "id"')


def test_every_key_and_the_target_shown():
    monitor = one(host="example.com.", record="mx", server="192.0.2.53", port=5353,
                  tcp=True, expect="10 mail.example.com", id="mail")
    assert (monitor.id, monitor.target) == ("mail", "MX example.com @192.0.2.53:5353 +tcp")
    assert monitor.spec.expect == ("10 mail.example.com",)
    assert one(host="example.com", server="2001:DB8:0::53", port=53).target == (
        "A example.com @2001:db8::53")
    assert one(host="example.com", server="::1", port=5353).target == (
        "A example.com @[::1]:5353")
    assert one(host="bücher.example", record="AAAA").target == "AAAA xn--bcher-kva.example"
    assert one(host="example.com", record="TYPE65").target == "HTTPS example.com"
    assert one(host="example.com", expect=["192.0.2.1", " 192.0.2.2 "]).spec.expect == (
        "192.0.2.1", " 192.0.2.2 ")


@pytest.mark.parametrize("key", ["host", "name"])  # the name asked for, spelled both ways
@pytest.mark.parametrize(("value", "message"), [
    (None, "must be a DNS name"),
    (42, "must be a DNS name"),
    ("  ", "must be a DNS name"),
    ("foo bar.com", "must be a DNS name (no spaces or control characters)"),
    ("a..example.com", '"a..example.com" is not a valid DNS name: a DNS label is empty'),
    ("x" * 64 + ".com",
     f'"{"x" * 64}.com" is not a valid DNS name: a DNS label is > 63 octets long'),
    ("a\\", '"a\\\\" is not a valid DNS name: an escaped code in a text format of DNS name'
            " is invalid"),
])
def test_the_name_asked_for_is_a_dns_name(key, value, message):
    # Spelled the old way, a `name` that is no DNS name may be meant as a label.
    hint = '; the name to query goes in "host", and "name" is then only the label'
    assert error_of(**{key: value}) == f"{key}: {message}{hint if key == 'name' else ''}"


@pytest.mark.parametrize(("entry", "message"), [
    ({"record": "AAA"}, 'record: "AAA" is not a DNS record type (A, AAAA, CNAME, MX, TXT,'
                        " NS, SOA, SRV, CAA, PTR, ...)"),
    ({"record": "ANY"}, 'record: "ANY" is a query meta-type, not a record type'),
    ({"record": "AXFR"}, 'record: "AXFR" is a query meta-type, not a record type'),
    ({"record": 1}, "record: must be a record type such as A, AAAA, CNAME, MX, TXT, NS"),
    ({"record": ""}, "record: must be a record type such as A, AAAA, CNAME, MX, TXT, NS"),
    ({"server": "dns.google"}, "server: must be an IP address (IPv4 or IPv6) of a DNS server"),
    ({"server": "[::1]"}, "server: must be an IP address (IPv4 or IPv6) of a DNS server"),
    ({"server": 8}, "server: must be an IP address (IPv4 or IPv6) of a DNS server"),
    ({"server": "192.0.2.53", "port": 0}, "port: must be a whole number from 1 to 65535"),
    ({"server": "192.0.2.53", "port": "53"}, "port: must be a whole number from 1 to 65535"),
    ({"port": 5353}, 'port: needs "server" (the system\'s nameservers are asked on port 53)'),
    ({"tcp": "yes"}, "tcp: must be true or false"),
    ({"expect": []}, "expect: must be a string or a non-empty list of strings"),
    ({"expect": [1]}, "expect[0]: must be a non-empty string"),
    ({"expect": "300.1.1.1"}, 'expect: "300.1.1.1" is not a valid A record'),
    ({"expect": ["192.0.2.1", "2001:db8::1"]},
     'expect[1]: "2001:db8::1" is not a valid A record'),
    ({"record": "AAAA", "expect": "192.0.2.1"}, 'expect: "192.0.2.1" is not a valid AAAA record'),
    ({"record": "MX", "expect": "mail.example.com"},
     'expect: "mail.example.com" is not a valid MX record'),
    ({"URL": "http://example.com/"}, "URL: unknown key"),
    ({"name": ""}, "name: must be a non-empty string"),  # beside host, a label
    ({"recrd": "A"}, 'recrd: unknown key (did you mean "record"?)'),
])
def test_config_errors_name_the_key(entry, message):
    assert error_of(**{"host": "example.com", **entry}) == message


def test_host_is_required():
    with pytest.raises(ConfigError) as exc:
        parse_config(json.dumps({"websites": [{"type": "dns", "record": "MX"}]}))
    assert str(exc.value) == "config.json: websites[0].host: is required (the DNS name to look up)"


def test_txt_expect_is_any_text():
    assert one(name="example.com", record="TXT", expect="v=spf1 -all").spec.wanted == (
        "v=spf1 -all",)


# --- verdicts against a real server ---------------------------------------------------------

def test_up_when_the_records_hold_every_expected_value(server):
    result = check(at(server, "example.com", expect=["192.0.2.2", "192.0.2.1"]))
    assert (result.state, result.reason, result.detail, result.code) == ("up", None, "", 0)
    # The query's time (not "dns": in the other kinds that is the name lookup), and the
    # whole check's.
    assert set(result.metrics) == {"query", "total"}
    assert 0 < result.metrics["query"] <= result.metrics["total"] == result.response_ms
    assert result.timestamp == pytest.approx(time.time(), abs=5)


def test_expected_values_compare_as_values(server):
    # Addresses as addresses, names without regard to case or the final dot, MX as both.
    assert check(at(server, "example.com", "AAAA", expect=["2001:DB8:0::1"])).state == "up"
    assert check(at(server, "example.com", "MX", expect=["10 mail.example.com",
                                                         "20 BACKUP.example.com."])).state == "up"
    assert check(at(server, "example.com", "NS", expect=["NS1.example.com"])).state == "up"
    # TXT: the record's strings joined, as SPF reads them.
    assert check(at(server, "example.com", "TXT",
                    expect=["v=spf1 include:_spf.example.com -all"])).state == "up"


def test_a_cname_is_followed_within_the_answer(server):
    assert check(at(server, "www.example.com", expect=["192.0.2.1"])).state == "up"
    assert check(at(server, "www.example.com", "CNAME", expect=["EXAMPLE.com"])).state == "up"


def test_a_wrong_answer_is_an_assertion_naming_what_came(server):
    result = check(at(server, "example.com", expect=["192.0.2.1", "198.51.100.7"]))
    assert (result.state, result.reason, result.code) == ("down", "assertion", 0)
    assert re.fullmatch(r'expect "198\.51\.100\.7": got 192\.0\.2\.[12], 192\.0\.2\.[12]',
                        result.detail)
    assert "query" in result.metrics  # answered: timed
    many = check(at(server, "many.example.com", expect=["192.0.2.1"]))
    assert many.detail.startswith('expect "192.0.2.1": got 192.0.2.')
    assert many.detail.endswith(", ... (7 in all)") and many.detail.count(",") == 5
    txt = check(at(server, "example.com", "TXT", expect=["v=spf1 -all"]))
    assert txt.detail == ('expect "v=spf1 -all": got "v=spf1 include:_spf.example.com -all"')


def test_nxdomain_servfail_and_refused_are_distinct(server):
    where = f"127.0.0.1:{server.port}"
    found = {name: check(at(server, name)) for name in
             ("gone.example.com", "not-in-table.example.com", "broken.example.com",
              "closed.example.com")}
    assert [(r.reason, r.detail, r.code, r.available) for r in found.values()] == [
        ("nxdomain", f"no such name (NXDOMAIN from {where})", 3, False),
        ("nxdomain", f"no such name (NXDOMAIN from {where})", 3, False),
        ("servfail", f"SERVFAIL from {where}", 2, False),
        ("dns_error", f"REFUSED from {where}", 5, False),
    ]
    assert all("query" in r.metrics for r in found.values())


def test_no_record_of_the_type_is_no_answer(server):
    where = f"127.0.0.1:{server.port}"
    result = check(at(server, "example.com", "SRV"))
    assert (result.reason, result.detail, result.code) == (
        "no_answer", f"no SRV record (NOERROR from {where})", 0)
    # A CNAME to a name the server does not serve: no A record after it.
    via = check(at(server, "mail.example.com"))
    assert (via.reason, via.detail) == (
        "no_answer", f"no A record (CNAME to elsewhere.example.net) (NOERROR from {where})")


def test_silence_is_a_timeout_within_the_time_given(server):
    result = check(at(server, "quiet.example.com", timeout=0.3))
    assert (result.state, result.reason, result.code, set(result.metrics)) == (
        "down", "timeout", None, {"total"})  # no answer: no query time
    assert result.detail == f"no answer from 127.0.0.1:{server.port} in 0.3 s (1 query)"
    assert 300 <= result.response_ms < 1000  # bounded by the timeout, give or take


def test_a_lost_query_is_sent_again_after_the_retry_interval(server):
    server.set("flaky.example.com", Entry(records={"A": ["192.0.2.3"]}, silent=1))
    result = check(at(server, "flaky.example.com", timeout=2.0, retry=0.1))
    assert result.state == "up", result.detail
    assert asked(server, "flaky.example.com") == ["udp", "udp"]
    assert 100 <= result.metrics["query"] < 1000  # counted from the first query


def test_nothing_listening_is_connect_at_once():
    port = closed_udp_port()
    result = check(dns_monitor("example.com", server="127.0.0.1", port=port, timeout=2.0))
    assert (result.reason, result.detail, result.code) == (
        "connect", f"127.0.0.1:{port}: connection refused", None)
    assert result.response_ms < 1000  # the ICMP port unreachable, not the timeout
    tcp = check(dns_monitor("example.com", server="127.0.0.1", port=port, tcp=True))
    assert (tcp.reason, tcp.detail) == ("connect", f"127.0.0.1:{port}: connection refused")


def test_garbage_is_an_invalid_response(server):
    result = check(at(server, "junk.example.com"))
    assert (result.reason, result.code) == ("invalid_response", None)
    assert result.detail.startswith(f"from 127.0.0.1:{server.port}: ")


def test_an_unusable_answer_is_an_invalid_response_still_timed():
    # A CNAME loop: an answer came (timed), that leads nowhere.
    with DnsServer({"loop1.example.com": {"CNAME": ["loop2.example.com"]},
                    "loop2.example.com": {"CNAME": ["loop1.example.com"]}}) as looping:
        result = check(dns_monitor("loop1.example.com", server="127.0.0.1",
                                   port=looping.port))
    assert (result.reason, result.code, result.detail) == (
        "invalid_response", None, f"from 127.0.0.1:{looping.port}: the CNAME chain is too long")
    assert 0 < result.metrics["query"] <= result.response_ms


def test_answer_values_in_a_detail_are_short_and_printable():
    # TXT strings of control characters, and a record of 10 KB (over TCP).
    ugly = '"\\027[31mred\\010\\000" "' + "x" * 200 + '"'
    huge = " ".join(f'"{"y" * 250}"' for _ in range(40))
    with DnsServer({"txt.example.com": Entry(records={"TXT": [ugly, huge]},
                                             truncate=True)}) as txt:
        result = check(dns_monitor("txt.example.com", "TXT", server="127.0.0.1",
                                   port=txt.port, expect=["v=spf1 -all"]))
        _, lines = KIND.debug(dns_monitor("txt.example.com", "TXT", server="127.0.0.1",
                                          port=txt.port, expect=["v=spf1 -all"]))
    assert result.reason == "assertion"
    assert result.detail.startswith('expect "v=spf1 -all": got "')
    assert len(result.detail) == 200 and result.detail.isprintable()
    # \027 and \010 are decimal in DNS text: ESC and a line feed, escaped as JSON.
    assert '"\\u001b[31mred\\n\\u0000xxx' in result.detail
    # Each record's line, and the verdict quoting the detail, a line of a terminal or two.
    assert all(len(line) < 250 and line.isprintable() for line in lines)


def test_a_truncated_answer_is_asked_again_over_tcp(server):
    result = check(at(server, "big.example.com", expect=["192.0.2.9"]))
    assert result.state == "up", result.detail
    assert asked(server, "big.example.com") == ["udp", "tcp"]


def test_tcp_asks_over_tcp_only(server):
    before = len(asked(server, "example.com"))
    assert check(at(server, "example.com", tcp=True, expect=["192.0.2.1"])).state == "up"
    assert asked(server, "example.com")[before:] == ["tcp"]
    gone = check(at(server, "gone.example.com", tcp=True))
    assert (gone.reason, gone.code) == ("nxdomain", 3)
    quiet = check(at(server, "quiet.example.com", tcp=True, timeout=0.3))
    assert (quiet.reason, quiet.code) == ("timeout", None)
    assert quiet.detail == f"no answer from 127.0.0.1:{server.port} in 0.3 s (1 query)"


def test_a_server_on_ipv6_loopback():
    try:
        six = DnsServer({"example.com": {"AAAA": ["2001:db8::1"]}}, host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with six:
        result = check(dns_monitor("example.com", "AAAA", server="::1", port=six.port,
                                   expect=["2001:db8::1"]))
        assert result.state == "up", result.detail
        gone = check(dns_monitor("gone.example.com", server="::1", port=six.port))
        assert gone.detail == f"no such name (NXDOMAIN from [::1]:{six.port})"


def test_run_check_bounds_it_as_the_scheduler_does(server, watchdog):
    result = run_check(at(server, "example.com"), watchdog)
    assert result.state == "up" and result.mono > 0
    quiet = run_check(at(server, "quiet.example.com", timeout=0.2), watchdog)
    assert quiet.reason == "timeout"


def test_an_abort_ends_the_wait_at_once(server):
    server.set("hush.example.com", SILENCE)
    monitor = at(server, "hush.example.com", timeout=10.0)
    deadline = Deadline(time.monotonic() + monitor.timeout, monitor.timeout)
    thread = threading.Thread(target=KIND.run, args=(monitor, deadline), daemon=True)
    thread.start()
    # Once the server has the query, the check is waiting for its answer.
    until = time.monotonic() + 5
    while not asked(server, "hush.example.com") and time.monotonic() < until:
        time.sleep(0.01)
    deadline.expire(abort=True)
    thread.join(2.0)
    assert not thread.is_alive()


# --- the system's nameservers -------------------------------------------------------------

def resolv(tmp_path: Path, *lines: str) -> str:
    path = tmp_path / "resolv.conf"
    path.write_text("".join(line + "\n" for line in lines))
    return str(path)


def system(name: str, conf: str, port: int, record: str = "A", timeout: float = 1.0,
           **spec) -> object:
    return dns_monitor(name, record, timeout=timeout, resolv_conf=conf, resolv_port=port,
                       **spec)


def test_without_server_the_nameservers_of_resolv_conf_are_asked(server, tmp_path):
    conf = resolv(tmp_path, "search corp.example", "nameserver 127.0.0.1")
    monitor = system("example.com", conf, server.port, expect=["192.0.2.1"])
    assert monitor.target == "A example.com"
    result = check(monitor)
    assert (result.state, result.code) == ("up", 0), result.detail
    gone = check(system("gone.example.com", conf, server.port))
    assert (gone.reason, gone.detail) == (
        "nxdomain", f"no such name (NXDOMAIN from 127.0.0.1:{server.port})")
    # The name is asked as written: absolute, not through the search domains.
    assert ("udp", "gone.example.com.corp.example", "A") not in server.queries


def test_the_next_nameserver_is_asked_after_a_failure_or_silence(tmp_path):
    with DnsServer({"example.com": {"A": ["192.0.2.1"]}}) as good, \
            DnsServer({"example.com": SERVFAIL}, host="127.0.0.2", port=good.port) as bad:
        conf = resolv(tmp_path, "nameserver 127.0.0.2", "nameserver 127.0.0.1")
        result = check(system("example.com", conf, good.port))
        assert result.state == "up", result.detail
        assert (asked(bad, "example.com"), asked(good, "example.com")) == (["udp"], ["udp"])
        bad.set("example.com", SILENCE)
        result = check(system("example.com", conf, good.port, retry=0.1))
        assert result.state == "up", result.detail
        # Every server failing: the one that answered says why, not the silent one.
        good.set("example.com", SERVFAIL)
        result = check(system("example.com", conf, good.port, retry=0.1, timeout=0.5))
        assert (result.reason, result.detail) == (
            "servfail", f"SERVFAIL from 127.0.0.1:{good.port}")
        good.set("example.com", SILENCE)
        result = check(system("example.com", conf, good.port, retry=0.1, timeout=0.5))
        assert result.reason == "timeout"
        assert result.detail.startswith(f"no answer from 127.0.0.2:{good.port},"
                                        f" 127.0.0.1:{good.port} in 0.5 s (")


def test_resolv_conf_is_read_again_when_it_changes(tmp_path):
    conf = resolv(tmp_path, "nameserver 192.0.2.53", "options timeout:1")
    assert system_nameservers(conf) == (("192.0.2.53",), 1.0)
    resolv(tmp_path, "nameserver 127.0.0.1", "nameserver ::1", "nameserver 127.0.0.2")
    assert system_nameservers(conf) == (("127.0.0.1", "::1", "127.0.0.2"), 2.0)


def test_a_zero_timeout_in_resolv_conf_waits_a_second_as_glibc_does(server, tmp_path):
    conf = resolv(tmp_path, "nameserver 127.0.0.1", "options timeout:0")
    assert system_nameservers(conf) == (("127.0.0.1",), 1.0)
    result = check(system("quiet.example.com", conf, server.port, timeout=0.5))
    assert result.reason == "timeout"
    # One query in the half second, not one after the other without waiting.
    assert result.detail.endswith(" in 0.5 s (1 query)")


@pytest.mark.parametrize(("lines", "why"), [
    (["search a..b", "nameserver 127.0.0.1"], "a DNS label is empty"),
    (["nameserver not-an-ip"], "nameserver not-an-ip is not a dns.nameserver.Nameserver"
                               " instance or text form, IP address, nor a valid https URL"),
])
def test_a_resolv_conf_dnspython_refuses_is_other_naming_the_file(tmp_path, lines, why):
    conf = resolv(tmp_path, *lines)
    result = check(system("example.com", conf, 53))
    detail = f"system resolver: cannot use {conf}: {why}"
    assert (result.state, result.reason, result.code, result.detail) == (
        "down", "other", None, detail[:200])
    _, trace = KIND.debug(system("example.com", conf, 53))
    assert trace[0] == detail


def test_no_usable_resolver_configuration_is_other(tmp_path):
    missing = str(tmp_path / "nothing.conf")
    result = check(system("example.com", missing, 53))
    assert (result.reason, result.detail, result.code) == (
        "other", f"system resolver: cannot open {missing}", None)
    empty = resolv(tmp_path, "search example.com")
    result = check(system("example.com", empty, 53))
    assert (result.reason, result.detail) == ("other", "system resolver: no nameservers")


# --- the trace ------------------------------------------------------------------------------

def test_debug_traces_the_question_the_server_and_the_answer(server):
    result, lines = KIND.debug(at(server, "www.example.com", expect=["192.0.2.1"]))
    where = f"127.0.0.1:{server.port}"
    assert result.state == "up"
    assert lines[0] == "query: A www.example.com. (udp)"
    assert lines[1] == f"nameserver (given): {where}"
    assert re.fullmatch(rf"{where} udp: answered in \d+\.\d ms", lines[2])
    assert lines[3] == "answer: NOERROR, flags qr rd"
    assert lines[4] == "  answer: www.example.com. 60 IN CNAME example.com."
    assert sorted(lines[5:7]) == ["  answer: example.com. 60 IN A 192.0.2.1",
                                  "  answer: example.com. 60 IN A 192.0.2.2"]
    assert lines[7:9] == ['expect "192.0.2.1": found', "verdict: up"]
    assert re.fullmatch(r"response time: \d+\.\d ms", lines[9]) and len(lines) == 10


def test_debug_traces_failures(server):
    where = f"127.0.0.1:{server.port}"
    result, lines = KIND.debug(at(server, "gone.example.com"))
    assert lines[3] == "answer: NXDOMAIN, flags qr rd"
    assert lines[-2] == f"verdict: down: nxdomain (no such name (NXDOMAIN from {where}))"
    result, lines = KIND.debug(at(server, "big.example.com"))
    assert lines[2] == f"{where} udp: truncated answer (TC), asking again over TCP"
    assert lines[3].startswith(f"{where} tcp: answered in ")
    result, lines = KIND.debug(at(server, "quiet.example.com", timeout=0.2))
    assert lines[2] == f"{where} udp: no answer in 0.2 s"
    assert lines[-2].startswith("verdict: down: timeout (no answer from ")
    result, lines = KIND.debug(at(server, "example.com", expect=["192.0.2.99"]))
    assert 'expect "192.0.2.99": MISSING' in lines


# --- the plugin hook ------------------------------------------------------------------------

def test_plugin_asks_for_the_sites_host_name():
    parsed = KIND.plugin(http_monitor("https://ops:pw-secret@WWW.Example.com:8443/x?k=1"), {})
    assert parsed is not None
    assert (parsed.target, parsed.secrets, parsed.id) == ("A www.example.com", (), None)
    spec: DnsSpec = parsed.spec
    assert (str(spec.name), spec.server, spec.expect) == ("www.example.com.", None, ())
    assert "pw-secret" not in repr(parsed)


@pytest.mark.parametrize("url", ["http://192.0.2.1/", "https://[2001:db8::1]:8443/",
                                 "http://localhost:8080/", "http://app.localhost/",
                                 "http://intranet/"])
def test_plugin_skips_what_dns_does_not_resolve(url):
    assert KIND.plugin(http_monitor(url), {}) is None


def test_the_bench_cases_end_as_they_say():
    for case in BENCH_CASES:
        with case.setup() as (monitor, state):
            assert check(monitor).state == state, case.name


def test_the_kind_registers_its_reasons_and_network_reasons():
    assert KIND.network and KIND.network_reasons == {"timeout", "connect"}
    assert set(KIND.reasons) >= {"nxdomain", "servfail", "dns_error", "no_answer",
                                 "assertion", "timeout", "connect", "invalid_response"}
    with pytest.raises(ValueError, match="not a valid CNAME record"):
        make_spec("example.com", "CNAME", expect=["two words"])


# --- `check NAME` through the real program ------------------------------------------------

def test_check_prints_the_answer_and_exits_by_the_verdict(server, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"monitors": [
        # The old spelling (the name asked for in `name`), and the new one with a label.
        {"type": "dns", "name": "www.example.com", "server": "127.0.0.1",
         "port": server.port, "expect": "192.0.2.1"},
        {"type": "dns", "name": "gone.example.com", "server": "127.0.0.1",
         "port": server.port, "id": "gone"},
        {"type": "dns", "host": "www.example.com", "name": "web front", "record": "CNAME",
         "server": "127.0.0.1", "port": server.port, "expect": "example.com"},
    ]}))
    # Each old spelling said once per run, whatever is checked.
    warned = "".join(f'Warning: {config}: monitors[{i}]: dns: "name" as the name to query is'
                     ' deprecated; put it in "host" ("name" is then only the label)\n'
                     for i in (0, 1))

    def app(*names: str) -> tuple[int, list[str]]:
        done = run_app(["check", "-c", str(config), *names], ROOT)
        assert done.stderr == warned
        return done.returncode, done.stdout.splitlines()

    where = f"127.0.0.1:{server.port}"
    status, lines = app("www.example.com")
    assert status == 0, lines
    assert lines[0] == f"== www.example.com (A www.example.com @{where}) [dns] =="
    assert lines[1] == "  query: A www.example.com. (udp)"
    assert "  answer: NOERROR, flags qr rd" in lines
    assert "    answer: www.example.com. 60 IN CNAME example.com." in lines
    assert '  expect "192.0.2.1": found' in lines
    assert re.fullmatch(r"UP code=0 duration=\d+\.\dms", lines[-1])
    status, lines = app("gone")
    assert status == 1, lines
    assert lines[0] == f"== gone.example.com (A gone.example.com @{where}) [dns] =="
    assert re.fullmatch(rf'DOWN reason=nxdomain detail="no such name \(NXDOMAIN from'
                        rf' {where}\)" code=3 duration=\d+\.\dms', lines[-1])
    # The label names the monitor; the name asked for is the host.
    status, lines = app("web front")
    assert status == 0, lines
    assert lines[0] == f"== web front (CNAME www.example.com @{where}) [dns] =="
    assert lines[1] == "  query: CNAME www.example.com. (udp)"
    assert '  expect "example.com": found' in lines

