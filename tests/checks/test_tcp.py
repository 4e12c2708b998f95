"""The tcp kind: connect, optionally send, read until `expect` matches; against real
loopback servers (tests/support/tcp_servers.py)."""

import errno
import json
import re
import socket
import threading
import time

import pytest

from monitor.checks import net as netmod
from monitor.checks import registry
from monitor.checks.execute import run_check
from monitor.checks.tcp import MAX_READ, check
from monitor.config import parse_config
from monitor.core.deadline import Deadline
from monitor.core.errors import ConfigError
from tests.support.app import ROOT, run_app
from tests.support.tcp_servers import Loopback, banner, dead_then_listening, drain, ping_pong, reset


def monitor(timeout: float = 2.0, **entry):
    """The monitor a config entry of type tcp makes (through the real config parser)."""
    entry = {"type": "tcp", "host": "127.0.0.1", "timeout": timeout, **entry}
    return parse_config(json.dumps({"websites": [entry]})).monitors[0]


def once(mon, **kwargs):
    return check(mon, Deadline(time.monotonic() + mon.timeout, mon.timeout), **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- config -----------------------------------------------------------------------------

def test_a_tcp_entry_parses_with_its_target_and_id():
    mon = monitor(port=25, send="EHLO x\r\n", expect="^220")
    assert (mon.kind, mon.target, mon.id) == ("tcp", "127.0.0.1:25", "tcp:127.0.0.1:25")
    assert mon.spec.send == "EHLO x\r\n" and mon.spec.expect.pattern == "^220"
    assert mon.secrets == ()
    six = monitor(host="::1", port=5432)
    assert (six.target, six.id) == ("[::1]:5432", "tcp:[::1]:5432")
    assert monitor(host="db.example", port=5432, id="db").id == "db"


def test_send_takes_variables_from_the_environment_as_secrets(monkeypatch):
    monkeypatch.setenv("TCP_HOST", "127.0.0.1")
    monkeypatch.setenv("TCP_PASS", "hunter2-secret")
    mon = monitor(host="${TCP_HOST}", port=110, send="PASS ${TCP_PASS}\r\n")
    assert mon.spec.send == "PASS hunter2-secret\r\n"
    assert mon.secrets == ("hunter2-secret",)  # the host is shown, not secret
    assert mon.target == "127.0.0.1:110"
    assert "hunter2" not in repr(mon)


@pytest.mark.parametrize(("entry", "message"), [
    ({}, "websites[0].host: is required"),
    ({"host": ""}, "websites[0].host: must be a host name or IP address"),
    ({"host": "a b"}, "websites[0].host: must be a host name or IP address"),
    ({"host": 7}, "websites[0].host: must be a host name or IP address"),
    ({"host": ".example.com"}, "websites[0].host: must be a host name or IP address"),
    ({"host": "db..example.com"}, "websites[0].host: must be a host name or IP address"),
    ({"host": "x" * 64 + ".example"}, "websites[0].host: must be a host name or IP address"),
    ({"host": "x"}, "websites[0].port: is required"),
    ({"host": "x", "port": 0}, "websites[0].port: must be a whole number from 1 to 65535"),
    ({"host": "x", "port": "25"}, "websites[0].port: must be a whole number from 1 to 65535"),
    ({"host": "x", "port": True}, "websites[0].port: must be a whole number from 1 to 65535"),
    ({"host": "x", "port": 25, "send": ""}, "websites[0].send: must be a non-empty string"),
    ({"host": "x", "port": 25, "send": ["a"]}, "websites[0].send: must be a non-empty string"),
    ({"host": "x", "port": 25, "send": "\ud800"},
     "websites[0].send: must not contain unpaired surrogates"),
    ({"host": "x", "port": 25, "send": "${NO_SUCH_VAR_TCP}"},
     "websites[0].send: environment variable NO_SUCH_VAR_TCP is not set"),
    ({"host": "x", "port": 25, "expect": ""},
     "websites[0].expect: must be a non-empty string (a regular expression)"),
    ({"host": "x", "port": 25, "expect": "(220"},
     "websites[0].expect: is not a valid regular expression: missing ), unterminated"
     " subpattern at position 0"),
    ({"host": "x", "port": 25, "expct": "x"}, 'websites[0].expct: unknown key (did you mean'
                                              ' "expect"?)'),
    ({"host": "x", "port": 25, "URL": "http://x/"}, "websites[0].URL: unknown key"),
])
def test_config_errors_name_the_key(entry, message):
    text = json.dumps({"websites": [{"type": "tcp", **entry}]})
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert str(caught.value) == f"config.json: {message}"


def test_the_kind_registers_its_reasons():
    kind = registry.get("tcp")
    assert kind.reasons == ("dns", "connect", "timeout", "assertion", "other")
    assert kind.network and kind.network_reasons == {"dns", "connect", "timeout"}
    assert kind.plugin is None and kind.debug is not None


# --- checks against loopback servers ----------------------------------------------------

def test_connect_only_is_up_with_its_connect_time():
    with Loopback(drain) as server:
        result = once(monitor(port=server.port))
    assert (result.state, result.code, result.reason, result.detail) == ("up", 0, None, "")
    assert set(result.metrics) == {"connect", "total"}  # an address: no lookup
    assert 0 < result.metrics["connect"] <= result.metrics["total"] == result.response_ms
    assert result.monitor_id == f"tcp:127.0.0.1:{server.port}"


def test_a_banner_that_matches_is_up():
    with Loopback(banner(b"220 mail.example ESMTP ready\r\n", hold=True)) as server:
        result = once(monitor(port=server.port, expect=r"^220 \S+ ESMTP"))
    assert (result.state, result.code) == ("up", 0)


def test_send_then_expect_the_answer():
    with Loopback(ping_pong) as server:
        result = once(monitor(port=server.port, send="PING\r\n", expect=r"^\+PONG\r\n"))
    assert (result.state, result.code) == ("up", 0)


def test_a_banner_that_does_not_match_fails_the_assertion():
    with Loopback(banner(b"500 go away\r\n")) as server:
        result = once(monitor(port=server.port, expect="^220"))
    assert (result.state, result.reason, result.code) == ("down", "assertion", 0)
    assert result.detail == 'expect "^220": got "500 go away\\r\\n" (connection closed)'


def test_a_server_that_closes_without_a_word():
    with Loopback(banner(b"")) as server:
        result = once(monitor(port=server.port, expect="^220"))
    assert (result.reason, result.detail) == (
        "assertion", 'expect "^220": got nothing (connection closed)')


def test_a_wrong_answer_on_an_open_connection_fails_at_the_timeout_as_an_assertion():
    # Something came, so the network works: not a timeout (which may be the monitor's own
    # network), but the wrong answer.
    with Loopback(banner(b"554 no service here, go away now\r\n", hold=True)) as server:
        result = once(monitor(timeout=0.3, port=server.port, expect="^220"))
    assert (result.reason, result.code) == ("assertion", 0)
    assert result.detail == ('expect "^220": got "554 no service here, go away now\\r\\n"'
                             ' (no match within 0.3 s)')


def test_a_long_answer_is_shortened_and_printable_in_the_detail():
    garbage = b"\x1b[31m" + b"x" * 100 + b"\r\n"
    with Loopback(banner(garbage)) as server:
        result = once(monitor(port=server.port, expect="^OK"))
    assert result.detail == ('expect "^OK": got "\\u001b[31m' + "x" * 55 + '"... (connection'
                             ' closed)')
    assert result.detail.isprintable()


def test_a_silent_server_times_out():
    with Loopback(drain) as server:
        started = time.monotonic()
        result = once(monitor(timeout=0.3, port=server.port, expect="^220"))
        elapsed = time.monotonic() - started
    assert (result.reason, result.detail, result.code) == (
        "timeout", "no answer within 0.3 s", 0)
    assert 0.3 <= elapsed < 1.0


def test_an_endless_answer_stops_at_the_cap():
    def flood(conn):
        conn.sendall(b"x" * (MAX_READ + 4096))
        drain(conn)
    with Loopback(flood) as server:
        result = once(monitor(port=server.port, expect="never"))
    assert result.reason == "assertion"
    assert result.detail.endswith('"... (no match in the first 64 KiB)')


def test_a_refused_connection():
    result = once(monitor(port=free_port()))
    assert (result.state, result.reason, result.detail, result.code) == (
        "down", "connect", "connection refused", None)
    assert "connect" not in result.metrics


def test_a_reset_connection():
    with Loopback(reset) as server:
        result = once(monitor(port=server.port, expect="^220"))
    assert (result.reason, result.detail) == ("connect", "connection reset by peer")


def test_a_name_under_invalid_fails_without_a_lookup():
    result = once(monitor(host="mail.example.invalid", port=25))
    assert (result.reason, result.detail, result.code) == (
        "dns", "name does not resolve: mail.example.invalid", None)


def test_a_name_is_resolved_and_timed():
    with Loopback(banner(b"220 hi\r\n")) as server:
        result = once(monitor(host="localhost", port=server.port, expect="^220"))
    assert result.state == "up", result.detail
    assert set(result.metrics) == {"dns", "connect", "total"}


def test_a_resolver_that_never_answers_is_bounded_by_the_timeout():
    # The C library's resolver cannot be made to hang here: the lookup function is the
    # one edge replaced. It blocks until released, as a dead resolver's getaddrinfo does.
    release = threading.Event()

    def stuck(*args, **kwargs):
        release.wait(10)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    try:
        started = time.monotonic()
        result = once(monitor(timeout=0.2, host="db.example", port=5432), lookup=stuck)
        elapsed = time.monotonic() - started
    finally:
        release.set()
    assert (result.reason, result.detail, result.code) == (
        "dns", "no answer from the resolver within 0.2 s", None)
    assert elapsed < 0.6


@pytest.mark.parametrize(("error", "detail"), [
    (socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
     "name does not resolve: db.example"),
    (socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"),
     "name lookup failed: Temporary failure in name resolution"),
])
def test_resolver_errors(error, detail):
    def failing(*args, **kwargs):
        raise error
    result = once(monitor(host="db.example", port=5432), lookup=failing)
    assert (result.reason, result.detail) == ("dns", detail)


def test_too_many_pending_lookups_fail_at_once(monkeypatch):
    monkeypatch.setattr(netmod, "_lookups", netmod.MAX_LOOKUPS)
    result = once(monitor(host="db.example", port=5432))
    assert (result.reason, result.detail) == (
        "dns", "1024 name lookups pending: the resolver is not answering")


def two_addresses(port: int):
    """A lookup giving a name two addresses, 127.0.0.1 first (as a resolver may give a dead
    IPv6 address before a working IPv4 one)."""
    def lookup(host, port_, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
                for ip in ("127.0.0.1", "127.0.0.2")]
    return lookup


def test_a_first_address_that_never_answers_leaves_time_for_the_next():
    with dead_then_listening(banner(b"220 second\r\n", hold=True)) as port:
        trace: list[str] = []
        result = once(monitor(timeout=2.0, host="dual.test", port=port, expect="^220"),
                      trace=trace, lookup=two_addresses(port))
    assert (result.state, result.code) == ("up", 0), result.detail
    assert trace[1:5] == [f"address 127.0.0.1 port {port}",
                          "  no answer within 1.00 s, trying the next address",
                          f"address 127.0.0.2 port {port}",
                          trace[4]]
    assert trace[4].startswith("connected in ")
    # The first address had its share of the 2 s (half of what remained when it began, for
    # one of two: the trace says how much, to the hundredth), not all of it.
    share_ms = float(trace[2].split("within ")[1].split(" s")[0]) * 1000
    assert 995 <= share_ms <= 1000
    assert share_ms - 5 <= result.metrics["connect"] < 1500


def test_the_last_address_gets_all_the_time_left():
    with dead_then_listening(drain) as port:
        def dead_only(host, port_, **kwargs):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        result = once(monitor(timeout=0.5, host="dead.test", port=port), lookup=dead_only)
    assert (result.state, result.reason, result.detail) == (
        "down", "timeout", "no connection within 0.5 s")
    assert result.response_ms >= 500


@pytest.mark.parametrize(("remaining", "left", "share"), [
    (2.0, 1, 2.0),  # the last address: all that is left
    (2.0, 2, 1.0),
    (2.0, 4, 0.5),
    (2.0, 16, 0.25),  # never less than MIN_ATTEMPT...
    (0.1, 3, 0.1),  # ...unless less remains
])
def test_each_attempt_gets_a_share_of_the_time_left(remaining, left, share):
    assert netmod.attempt_time(remaining, left) == share


def test_ipv6():
    try:
        server = Loopback(banner(b"220 six\r\n"), host="::1")
    except OSError:
        pytest.skip("no IPv6 on loopback")
    with server:
        result = once(monitor(host="::1", port=server.port, expect="six"))
    assert (result.state, result.monitor_id) == ("up", f"tcp:[::1]:{server.port}")


def test_the_check_ends_promptly_when_the_monitor_stops():
    deadline = Deadline(time.monotonic() + 30, 30)

    def stop_the_monitor(conn):  # once connected, the monitor stops; nothing is said
        deadline.expire(abort=True)
        drain(conn)

    with Loopback(stop_the_monitor) as server:
        mon = monitor(timeout=30, port=server.port, expect="^220")
        started = time.monotonic()
        result = check(mon, deadline)
        elapsed = time.monotonic() - started
    assert result.reason == "timeout" and elapsed < 1.0


def test_an_echoed_secret_is_masked(monkeypatch):
    monkeypatch.setenv("TCP_PASS", "hunter2-secret")
    with Loopback(ping_pong) as server:
        mon = monitor(port=server.port, send="AUTH ${TCP_PASS}\r\n", expect=r"^\+OK")
        result, lines = registry.get("tcp").debug(mon)
    assert result.reason == "assertion"
    assert result.detail == ('expect "^\\\\+OK": got "-ERR unknown command AUTH ***\\r\\n"'
                             ' (connection closed)')
    text = "\n".join(lines)
    assert "hunter2" not in text and 'sent 21 bytes: "AUTH ***\\r\\n"' in text


# --- the trace --------------------------------------------------------------------------

def test_debug_traces_the_address_what_was_sent_and_the_banner():
    with Loopback(ping_pong) as server:
        mon = monitor(port=server.port, send="PING\r\n", expect=r"PONG")
        result, lines = registry.get("tcp").debug(mon)
    assert result.state == "up"
    assert lines[0] == f"address 127.0.0.1 port {server.port}"
    assert re.fullmatch(r"connected in \d+\.\d ms", lines[1])
    assert lines[2:5] == ['sent 6 bytes: "PING\\r\\n"', 'received 7 bytes: "+PONG\\r\\n"',
                          'expect "PONG": matched "PONG"']
    assert lines[5] == "verdict: up"
    assert re.fullmatch(r"response time: \d+\.\d ms", lines[6])


def test_debug_of_a_failure_ends_with_why():
    port = free_port()
    result, lines = registry.get("tcp").debug(monitor(port=port))
    assert lines[:2] == [f"address 127.0.0.1 port {port}", "  connection refused"]
    assert lines[2] == "verdict: down: connect (connection refused)"


# --- the command line -------------------------------------------------------------------

def test_check_name_prints_the_trace_and_exits_by_the_verdict(tmp_path):
    with Loopback(banner(b"220 ready\r\n", hold=True)) as server:
        config = tmp_path / "config.json"
        config.write_text(json.dumps({"websites": [
            {"type": "tcp", "name": "mail", "host": "127.0.0.1", "port": server.port,
             "expect": "^220"},
            {"type": "tcp", "name": "wrong", "id": "wrong", "host": "127.0.0.1",
             "port": server.port, "expect": "^\\+OK", "timeout": 0.5},
        ]}))
        good = run_app(["check", "-c", str(config), "mail"], ROOT, timeout=30)
        bad = run_app(["check", "-c", str(config), "wrong"], ROOT, timeout=30)
    assert (good.returncode, good.stderr) == (0, ""), good.stdout
    out = good.stdout.splitlines()
    assert out[0] == f"== mail (127.0.0.1:{server.port}) [tcp] =="
    assert '  received 11 bytes: "220 ready\\r\\n"' in out
    assert '  expect "^220": matched "220"' in out
    assert re.fullmatch(r"UP code=0 duration=\d+\.\dms", out[-1])
    assert (bad.returncode, bad.stderr) == (1, ""), bad.stdout
    assert bad.stdout.splitlines()[-1].startswith(
        'DOWN reason=assertion detail="expect \\"^\\\\\\\\+OK\\": got \\"220 ready\\\\r\\\\n\\"'
        ' (no match within 0.5 s)" code=0 duration=')


@pytest.mark.parametrize(("error", "reason", "detail"), [
    (OSError(errno.EHOSTUNREACH, "No route to host"), "connect", "No route to host"),
    (TimeoutError(errno.ETIMEDOUT, "Connection timed out"), "connect", "Connection timed out"),
    (BrokenPipeError(errno.EPIPE, "Broken pipe"), "connect", "connection reset by peer"),
    (OSError(errno.EMFILE, "Too many open files"), "other",
     "OSError: [Errno 24] Too many open files"),
])
def test_errors_no_step_expects(error, reason, detail):
    # An ICMP error or a retransmission timeout on an open connection cannot be caused on
    # loopback: the classification alone is tested.
    failure = netmod.unexpected(error)
    assert (failure.reason, failure.detail) == (reason, detail)


def test_run_check_runs_the_kind_within_its_timeout(watchdog):
    # The path the monitor takes: the registry's `run` under the watchdog's deadline.
    with Loopback(banner(b"220 ok\r\n", hold=True)) as server:
        up = run_check(monitor(port=server.port, expect="^220"), watchdog, lateness_ms=3.0)
        started = time.monotonic()
        late = run_check(monitor(timeout=0.2, port=server.port, expect="^250"), watchdog)
        elapsed = time.monotonic() - started
    assert (up.state, up.lateness_ms, up.code) == ("up", 3.0, 0)
    assert (late.reason, late.detail) == (
        "assertion", 'expect "^250": got "220 ok\\r\\n" (no match within 0.2 s)')
    assert 0.2 <= elapsed < 0.6
