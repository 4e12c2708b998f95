"""Name resolution and connect bounded by the check's timeout.

The machine's resolver is off loopback, so a resolver that hangs, or answers "try again",
is played by a stand-in for `socket.getaddrinfo`: that is the one edge these tests cannot
reach for real. Names under .invalid never reach any resolver (RFC 6761)."""

import socket
import threading
import time

import pytest

from monitor.checks import run_check
from monitor.checks.http import resolver
from tests.conftest import make_site

REAL_GETADDRINFO = socket.getaddrinfo


@pytest.fixture()
def fake_dns(monkeypatch):
    """Answers for names ending in .test; every other lookup goes to the real function."""
    answers = {}
    release = threading.Event()
    calls = []

    def getaddrinfo(host, port, *args, **kwargs):
        if not str(host).endswith(".test"):
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        calls.append(host)
        answer = answers[host]
        if answer == "hang":
            release.wait(10)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        if callable(answer):
            return answer(port)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in answer]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield answers, calls
    release.set()


def timed(site, watchdog):
    started = time.monotonic()
    result = run_check(site, watchdog)
    return result, time.monotonic() - started


def test_invalid_tld_fails_at_once_without_asking_a_resolver(watchdog, fake_dns):
    _answers, calls = fake_dns
    result, elapsed = timed(make_site("http://nothing.invalid/", timeout=2.0), watchdog)
    assert (result.available, result.code, result.reason, result.detail) == (
        False, None, "dns", "name does not resolve: reserved name that never resolves "
                            "(RFC 6761)")
    assert elapsed < 0.1
    assert calls == []


def test_a_resolver_that_never_answers_is_cut_at_the_timeout(watchdog, fake_dns, hostile):
    answers, _calls = fake_dns
    answers["slow.test"] = "hang"
    port = hostile.server_address[1]
    result, elapsed = timed(make_site(f"http://slow.test:{port}/ok", timeout=0.5), watchdog)
    assert (result.available, result.reason, result.detail) == (
        False, "dns", "no answer from the resolver within 0.5 s")
    assert 0.45 < elapsed < 0.8


def test_a_temporary_resolver_failure_is_retried_once(watchdog, fake_dns, hostile):
    answers, calls = fake_dns
    port = hostile.server_address[1]
    failures = []

    def flaky(port):
        if not failures:
            failures.append(1)
            raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]

    answers["flaky.test"] = flaky
    result, _ = timed(make_site(f"http://flaky.test:{port}/ok", timeout=1.0), watchdog)
    assert (result.available, result.code) == (True, 200)
    assert calls == ["flaky.test", "flaky.test"]


def test_a_name_that_does_not_exist_is_not_retried(watchdog, fake_dns):
    answers, calls = fake_dns

    def nxdomain(port):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    answers["gone.test"] = nxdomain
    result, _ = timed(make_site("http://gone.test/", timeout=1.0), watchdog)
    assert (result.reason, result.detail) == ("dns", "name does not resolve: Name or service "
                                                     "not known")
    assert calls == ["gone.test"]


def run_together(sites, watchdog):
    threads = [threading.Thread(target=run_check, args=(site, watchdog)) for site in sites]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(2)


def test_checks_of_one_dead_name_share_one_lookup(watchdog, fake_dns, hostile):
    answers, calls = fake_dns
    answers["dead.test"] = "hang"
    answers["fine.test"] = ["127.0.0.1"]
    run_together([make_site("http://dead.test/", timeout=0.3)
                  for _ in range(3 * resolver.RESOLVER_THREADS)], watchdog)
    # One lookup in flight for the dead name, however many checks: the others still resolve.
    assert calls.count("dead.test") == 1
    port = hostile.server_address[1]
    result, _ = timed(make_site(f"http://fine.test:{port}/ok", timeout=1.0), watchdog)
    assert (result.available, result.code) == (True, 200)


def test_stuck_resolvers_make_new_lookups_fail_fast(watchdog, fake_dns, hostile):
    answers, _calls = fake_dns
    names = [f"stuck{i}.test" for i in range(resolver.RESOLVER_THREADS)]
    for name in names:
        answers[name] = "hang"
    run_together([make_site(f"http://{name}/", timeout=0.3) for name in names], watchdog)
    # Every resolver thread is still inside a lookup; the next one is refused at once.
    answers["late.test"] = ["127.0.0.1"]
    result, elapsed = timed(make_site("http://late.test/", timeout=1.0), watchdog)
    assert (result.reason, result.detail) == (
        "dns", f"resolver busy: {resolver.RESOLVER_THREADS} lookups already stuck")
    assert elapsed < 0.1


@pytest.fixture()
def unanswered_port():
    """A loopback port whose listen queue is full: further connects get no SYN-ACK and hang,
    as they do towards a host that drops packets."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):  # fill the accept queue (its real size is the kernel's choice)
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.05)
    yield port
    for sock in [*fillers, listener]:
        sock.close()


def test_connect_timeout_covers_all_addresses_together(watchdog, fake_dns, unanswered_port):
    answers, _calls = fake_dns
    answers["many.test"] = ["127.0.0.1"] * 3
    result, elapsed = timed(make_site(f"http://many.test:{unanswered_port}/", timeout=0.6),
                            watchdog)
    assert (result.available, result.reason) == (False, "timeout")
    # Three addresses, each given a full timeout, would take 1.8 s.
    assert elapsed < 0.9


def test_next_address_is_tried_when_the_first_refuses(watchdog, fake_dns, hostile):
    answers, _calls = fake_dns
    port = hostile.server_address[1]
    # 127.0.0.2 is loopback too, but nothing listens there on this port.
    answers["two.test"] = ["127.0.0.2", "127.0.0.1"]
    result, _ = timed(make_site(f"http://two.test:{port}/ok", timeout=1.0), watchdog)
    assert (result.available, result.code) == (True, 200)
