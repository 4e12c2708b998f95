"""Name resolution bounded by the check's timeout, against a real resolver.

libcurl resolves through getaddrinfo in a thread of its own, so the resolver is played
for real: each test runs its checks in a fresh process inside new network and mount
namespaces (it runs as root), where `lo` is up, /etc/resolv.conf names 127.0.0.1, and a
small DNS server on 127.0.0.1:53 answers, answers late, says the name does not exist, or
never answers at all. Names under .invalid never reach any resolver (RFC 6761)."""

import json
import subprocess
import sys
import time

from tests.support.app import ROOT

# Runs inside the namespaces: the DNS server, an HTTP server on 127.0.0.1:8080, then the
# checks (blocking, or all at once through the http kind's loop); prints what happened.
SANDBOX = r'''
import http.server, json, socket, struct, sys, threading, time
from monitor.checks.execute import run_check
from monitor.checks.watchdog import Watchdog
from monitor.checks.http.spec import http_monitor
from monitor.checks.http.curl import CurlLoop

plan = json.loads(sys.argv[1])
answers, queries = plan["answers"], []

def dns_server(sock):
    while True:
        data, peer = sock.recvfrom(512)
        threading.Thread(target=answer, args=(sock, data, peer), daemon=True).start()

def answer(sock, data, peer):
    labels, at = [], 12
    while data[at]:
        labels.append(data[at + 1:at + 1 + data[at]].decode())
        at += 1 + data[at]
    name = ".".join(labels)
    qtype = struct.unpack("!H", data[at + 1:at + 3])[0]
    question = data[12:at + 5]
    queries.append([name, qtype])
    what = answers.get(name, "nxdomain")
    if what == "hang":
        return
    if isinstance(what, dict):
        time.sleep(what["delay"])
        what = what["ips"]
    ips = what if qtype == 1 and isinstance(what, list) else []
    flags = 0x8183 if what == "nxdomain" else 0x8180
    reply = data[:2] + struct.pack("!HHHHH", flags, 1, len(ips), 0, 0) + question
    for ip in ips:
        reply += struct.pack("!HHHIH", 0xC00C, 1, 1, 0, 4) + socket.inet_aton(ip)
    sock.sendto(reply, peer)

class Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass

udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("127.0.0.1", 53))
threading.Thread(target=dns_server, args=(udp,), daemon=True).start()
web = http.server.ThreadingHTTPServer(("127.0.0.1", 8080), Ok)
threading.Thread(target=web.serve_forever, daemon=True).start()
for spec in plan.get("listen", []):  # listeners whose accept queue is full: SYNs dropped
    listener = socket.socket()
    listener.bind(tuple(spec))
    listener.listen(0)
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(tuple(spec))
time.sleep(0.05)

def row(result, elapsed):
    return {"available": result.available, "code": result.code, "reason": result.reason,
            "detail": result.detail, "elapsed": elapsed}

sites = [http_monitor(url, timeout=timeout) for url, timeout in plan["checks"]]
rows = [None] * len(sites)
started = time.monotonic()
if plan.get("loop"):
    loop, left = CurlLoop(limit=10_000), threading.Semaphore(0)
    def done(index):
        def call(result):
            rows[index] = row(result, time.monotonic() - started)
            left.release()
        return call
    for index, site in enumerate(sites):
        loop.submit(site, 0.0, done(index))
    for _ in sites:
        left.acquire(timeout=10)
    loop.stop()
else:
    dog = Watchdog()
    for index, site in enumerate(sites):
        begun = time.monotonic()
        rows[index] = row(run_check(site, dog), time.monotonic() - begun)
print(json.dumps({"results": rows, "queries": queries}))
'''


def sandbox(answers: dict, checks: list, loop: bool = False, listen: list | None = None,
            options: str = "timeout:5 attempts:1") -> dict:
    """Run `checks` ([url, timeout] each) with the DNS server answering `answers` (name:
    a list of IPv4 addresses, "nxdomain", "hang", or {"delay": s, "ips": [...]})."""
    plan = json.dumps({"answers": answers, "checks": checks, "loop": loop,
                       "listen": listen or []})
    setup = ("ip link set lo up\n"
             "conf=$(mktemp)\n"
             f"printf 'nameserver 127.0.0.1\\noptions {options}\\n' > $conf\n"
             "mount --bind $conf /etc/resolv.conf\n")
    script = f'{setup}exec "$0" -c "$1" "$2"'
    proc = subprocess.run(["unshare", "-n", "-m", "sh", "-ec", script, sys.executable,
                           SANDBOX, plan], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def outcome(row: dict) -> tuple:
    return row["available"], row["code"], row["reason"], row["detail"]


def test_invalid_tld_fails_at_once_without_asking_a_resolver():
    ran = sandbox({}, [["http://nothing.invalid/", 2.0]])
    result = ran["results"][0]
    assert outcome(result) == (False, None, "dns", "name does not resolve: reserved name that"
                                                   " never resolves (RFC 6761)")
    assert result["elapsed"] < 0.1
    assert ran["queries"] == []


def test_a_resolver_that_never_answers_is_cut_at_the_timeout():
    ran = sandbox({"slow.test": "hang"}, [["http://slow.test:8080/", 0.5]])
    result = ran["results"][0]
    assert outcome(result) == (False, None, "dns", "no answer from the resolver within 0.5 s")
    assert 0.45 < result["elapsed"] < 0.8


def test_a_slow_resolver_within_the_timeout_is_fine():
    ran = sandbox({"late.test": {"delay": 0.3, "ips": ["127.0.0.1"]}},
                  [["http://late.test:8080/", 1.5]])
    result = ran["results"][0]
    assert outcome(result)[:3] == (True, 200, None)
    assert 0.3 <= result["elapsed"] < 1.0


def test_a_name_that_does_not_exist_fails_as_dns():
    ran = sandbox({}, [["http://gone.test:8080/", 1.0]])
    result = ran["results"][0]
    assert outcome(result) == (False, None, "dns", "name does not resolve: gone.test")
    assert result["elapsed"] < 0.5


def test_names_are_resolved_afresh_on_every_check():
    # No DNS cache between checks: a resolver that died an hour ago must show.
    ran = sandbox({"fine.test": ["127.0.0.1"]}, [["http://fine.test:8080/", 1.0]] * 3)
    assert [outcome(r)[:3] for r in ran["results"]] == [(True, 200, None)] * 3
    assert sum(1 for name, qtype in ran["queries"] if (name, qtype) == ("fine.test", 1)) == 3


def test_stuck_lookups_do_not_hold_up_other_checks_in_the_loop():
    # Fifty checks whose lookups never return, then healthy ones, all in one loop: the
    # loop never waits on a lookup, the stuck checks end at their timeout, each as dns.
    # libcurl's pool of resolver threads (CURLMOPT_RESOLVE_THREADS_MAX, which pycurl
    # cannot set) is all stuck then: a name needing a lookup waits, an address does not.
    stuck = [[f"http://stuck{i}.test:8080/", 1.0] for i in range(50)]
    answers = {f"stuck{i}.test": "hang" for i in range(50)}
    started = time.monotonic()
    ran = sandbox(answers, [*stuck, ["http://127.0.0.1:8080/", 1.0]], loop=True)
    *results, healthy = ran["results"]
    assert outcome(healthy)[:3] == (True, 200, None)
    assert healthy["elapsed"] < 0.5
    assert {outcome(r) for r in results} == {
        (False, None, "dns", "no answer from the resolver within 1 s")}
    assert max(r["elapsed"] for r in results) < 1.5
    assert time.monotonic() - started < 10


def test_a_few_stuck_lookups_do_not_hold_up_another_name():
    answers = {f"stuck{i}.test": "hang" for i in range(5)} | {"fine.test": ["127.0.0.1"]}
    checks = [[f"http://stuck{i}.test:8080/", 1.0] for i in range(5)]
    ran = sandbox(answers, [*checks, ["http://fine.test:8080/", 1.0]], loop=True)
    healthy = ran["results"][-1]
    assert outcome(healthy)[:3] == (True, 200, None)
    assert healthy["elapsed"] < 0.5


def test_connect_timeout_covers_all_addresses_together():
    # Three addresses that drop SYNs: the timeout bounds them all, not each.
    answers = {"many.test": ["127.0.0.1", "127.0.0.2", "127.0.0.3"]}
    listen = [[f"127.0.0.{i}", 9000] for i in (1, 2, 3)]
    ran = sandbox(answers, [["http://many.test:9000/", 0.6]], listen=listen)
    result = ran["results"][0]
    assert outcome(result)[:3] == (False, None, "timeout")
    assert result["elapsed"] < 0.9


def test_next_address_is_tried_when_the_first_refuses():
    # Nothing listens on 127.0.0.2:8080; 127.0.0.1:8080 answers.
    ran = sandbox({"two.test": ["127.0.0.2", "127.0.0.1"]}, [["http://two.test:8080/", 1.0]])
    assert outcome(ran["results"][0])[:3] == (True, 200, None)
