"""Connect failures as a check records them, and racing a site's addresses (RFC 8305).

Everything stays on loopback. The faults loopback cannot show by itself are made in
namespaces the test creates (it runs as root): in a new network namespace `lo` is down, so
a connect fails with "Network is unreachable"; an `unreachable` route there gives "No route
to host"; a private mount namespace with its own /etc/hosts gives a name two addresses
through the real getaddrinfo. An address "drops SYNs" when it is a listener whose accept
queue is full: Linux then ignores further SYNs, so a connect to it hangs as it does towards
a host behind a broken route.
"""

import contextlib
import errno
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

from tests.support.app import ROOT
from tests.support.tcp_servers import syn_dropping

# One check in a fresh process: prints what the check recorded and what the URL's host
# resolves to there.
CHECK = """
import json, socket, sys
from urllib.parse import urlsplit
from monitor.checks.execute import run_check
from monitor.checks.watchdog import Watchdog
from monitor.checks.http.spec import http_monitor
url, timeout = sys.argv[1], float(sys.argv[2])
host = urlsplit(url).hostname
addresses = [info[4][0] for info in socket.getaddrinfo(host, 80, 0, socket.SOCK_STREAM)]
site = http_monitor(url, interval=5.0, timeout=timeout)
result = run_check(site, Watchdog())
print(json.dumps({"addresses": addresses, "available": result.available,
                  "status": result.code, "reason": result.reason,
                  "detail": result.detail, "ms": result.response_ms}))
"""


def check_isolated(url: str, timeout: float, namespaces: list[str], setup: str = "") -> dict:
    """One check of `url` in a subprocess inside new namespaces (`unshare` flags), after the
    shell commands `setup` have run inside them."""
    script = f'{setup}\nexec "$0" -c "$1" "$2" "$3"'
    proc = subprocess.run(["unshare", *namespaces, "sh", "-ec", script, sys.executable, CHECK,
                           url, str(timeout)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_network_unreachable_is_a_connect_failure_at_once():
    # A new network namespace: its loopback is down, connect fails with ENETUNREACH.
    result = check_isolated("http://127.0.0.1:8080/", 2.0, ["-n"])
    assert (result["available"], result["status"], result["reason"], result["detail"]) == (
        False, None, "connect", "Network is unreachable")
    assert result["ms"] < 500  # at once: well before the 2 s timeout


def test_no_route_to_host_is_a_connect_failure_at_once():
    result = check_isolated("http://127.0.0.6:8080/", 2.0, ["-n"],
                            "ip link set lo up\n"
                            "ip route add unreachable 127.0.0.6/32 table local")
    assert (result["available"], result["status"], result["reason"], result["detail"]) == (
        False, None, "connect", "No route to host")
    assert result["ms"] < 500


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def dead_then_healthy(healthy_listener: bool = False) -> Iterator[int]:
    """127.0.0.1:P drops SYNs, 127.0.0.2:P answers HTTP (or, with `healthy_listener`, only
    completes handshakes). Yields P."""
    for _ in range(20):
        with syn_dropping("127.0.0.1") as port, contextlib.ExitStack() as stack:
            try:
                if healthy_listener:
                    healthy = stack.enter_context(socket.socket())
                    healthy.bind(("127.0.0.2", port))
                    healthy.listen(16)
                else:
                    server = http.server.ThreadingHTTPServer(("127.0.0.2", port), _Ok)
            except OSError as exc:  # that port is taken on 127.0.0.2: another one
                if exc.errno != errno.EADDRINUSE:
                    raise
                continue
            if not healthy_listener:
                stack.callback(server.server_close)
                thread = threading.Thread(target=server.serve_forever, args=(0.05,))
                thread.start()
                stack.callback(thread.join, 5)
                stack.callback(server.shutdown)
            yield port
            return
    raise AssertionError("no port free on both 127.0.0.1 and 127.0.0.2")


def test_a_site_whose_first_address_drops_syns_is_up(tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 dual.test\n127.0.0.2 dual.test\n")
    with dead_then_healthy() as port:
        result = check_isolated(f"http://dual.test:{port}/", 4.0, ["-m"],
                                f"mount --bind {hosts} /etc/hosts")
    # The real getaddrinfo (glibc sorts by RFC 6724) gives the dead address first.
    assert result["addresses"] == ["127.0.0.1", "127.0.0.2"]
    assert (result["available"], result["status"], result["reason"]) == (True, 200, None)
    # The second address is tried long before the 4 s timeout runs out.
    assert result["ms"] < 2500


def test_a_dead_ipv6_address_does_not_hold_up_ipv4(tmp_path):
    # A broken IPv6 route, the classic case for Happy Eyeballs (RFC 8305): ::1 drops SYNs,
    # 127.0.0.1 answers; IPv4 starts after the eyeballs delay, not after the timeout.
    hosts = tmp_path / "hosts"
    hosts.write_text("::1 fam.test\n127.0.0.1 fam.test\n")
    drop = tmp_path / "drop.py"
    drop.write_text(SYN_DROP_V6)
    # Background helpers bounded in time and off the output the test reads.
    setup = (f"mount --bind {hosts} /etc/hosts\nip link set lo up\n"
             f"timeout 20 {sys.executable} {drop} >/dev/null 2>&1 &\n"
             f"timeout 20 {sys.executable} -m http.server -b 127.0.0.1 8080"
             " >/dev/null 2>&1 &\nsleep 0.5")
    result = check_isolated("http://fam.test:8080/", 4.0, ["-n", "-m"], setup)
    assert result["addresses"][0] == "::1"
    assert (result["available"], result["status"], result["reason"]) == (True, 200, None)
    assert result["ms"] < 1500


SYN_DROP_V6 = """
import socket, time
listener = socket.socket(socket.AF_INET6)
listener.bind(("::1", 8080))
listener.listen(0)
fillers = []
for _ in range(4):
    filler = socket.socket(socket.AF_INET6)
    filler.setblocking(False)
    filler.connect_ex(("::1", 8080))
    fillers.append(filler)
time.sleep(20)
"""


def test_every_address_refused_fails_at_once_as_refused(tmp_path):
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 dual.test\n127.0.0.2 dual.test\n")
    with socket.socket() as sock:  # a port just released: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = check_isolated(f"http://dual.test:{port}/", 4.0, ["-m"],
                            f"mount --bind {hosts} /etc/hosts")
    assert (result["available"], result["reason"], result["detail"]) == (
        False, "connect", "connection refused")
    # A failed attempt starts the next one at once.
    assert result["ms"] < 500


def test_stopping_the_monitor_cuts_a_connect_in_progress(watchdog):
    from monitor.checks.execute import run_check
    from monitor.checks.http.spec import http_monitor
    from monitor.core.model import CheckAborted

    with syn_dropping("127.0.0.1") as port:
        outcome: list[BaseException] = []

        def check() -> None:
            try:
                run_check(http_monitor(f"http://127.0.0.1:{port}/", timeout=10.0), watchdog)
            except BaseException as exc:  # noqa: BLE001 - the test looks at it
                outcome.append(exc)

        thread = threading.Thread(target=check)
        thread.start()
        time.sleep(0.3)  # the connect is in flight, unanswered
        stopped = time.monotonic()
        watchdog.abort_all()
        thread.join(5)
        assert not thread.is_alive()
        assert time.monotonic() - stopped < 1.0
        assert len(outcome) == 1 and isinstance(outcome[0], CheckAborted)


def test_stopping_the_loop_aborts_its_checks_in_flight():
    from monitor.checks.http.curl import CurlLoop
    from monitor.checks.http.spec import http_monitor

    with syn_dropping("127.0.0.1") as port:
        loop = CurlLoop()
        ended: list[object] = []
        for i in range(20):
            loop.submit(http_monitor(f"http://127.0.0.1:{port}/?n={i}", timeout=10.0), 0.0,
                        ended.append)
        time.sleep(0.3)
        before = open_fds()
        stopped = time.monotonic()
        loop.stop()
        assert time.monotonic() - stopped < 1.0
        assert ended == [None] * 20  # aborted: no result
        assert open_fds() < before  # their sockets closed


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))
