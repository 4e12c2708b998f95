"""What one check costs in CPU with each HTTP client we could build on, against nginx.

    python -m bench.alternatives [--seconds 5]

Each client makes GETs of a tiny 200, each on a new connection, for --seconds, and the CPU
time of this process per check is printed: requests (what the monitor uses), http.client
from the standard library (what requests rests on, without its layers), a minimal
asyncio HTTP/1.1 client (one event loop, 64 checks at a time), libcurl through pycurl's
multi interface (one thread, 64 at a time: how the http kind runs), and the http kind's
own CurlLoop (the same plus its bookkeeping: redirects, limits, phase times).
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import tempfile
import time
from pathlib import Path

from bench.peers import ensure_packages, nginx
from bench.run import FIGURES, cpu_seconds, figure


def loop(check, seconds: float) -> dict:
    count, cpu0, start = 0, cpu_seconds(), time.monotonic()
    while time.monotonic() - start < seconds:
        check()
        count += 1
    elapsed = time.monotonic() - start
    return {"rate": count / elapsed, "cpu_us": (cpu_seconds() - cpu0) / count * 1e6}


def with_requests(base: str, seconds: float) -> dict:
    import requests

    session = requests.Session()
    session.trust_env = False
    return loop(lambda: session.get(base + "/r", headers={"Connection": "close"},
                                    timeout=5).content, seconds)


def with_http_client(base: str, seconds: float) -> dict:
    host, port = base.removeprefix("http://").split(":")

    def check() -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        conn.request("GET", "/h", headers={"Connection": "close"})
        conn.getresponse().read()
        conn.close()

    return loop(check, seconds)


def with_asyncio(base: str, seconds: float, concurrency: int = 64) -> dict:
    host, port = base.removeprefix("http://").split(":")
    request = f"GET /a HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()

    async def one() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head[:40])
        await reader.read()
        writer.close()

    async def worker(end: float, counts: list[int]) -> None:
        while time.monotonic() < end:
            await one()
            counts[0] += 1

    async def run() -> dict:
        counts = [0]
        cpu0, start = cpu_seconds(), time.monotonic()
        await asyncio.gather(*(worker(start + seconds, counts) for _ in range(concurrency)))
        elapsed = time.monotonic() - start
        return {"rate": counts[0] / elapsed, "cpu_us": (cpu_seconds() - cpu0) / counts[0] * 1e6}

    return asyncio.run(run())


def with_pycurl(base: str, seconds: float, concurrency: int = 64) -> dict:
    import pycurl

    multi = pycurl.CurlMulti()
    url = base + "/c"

    def start() -> None:
        easy = pycurl.Curl()
        easy.setopt(pycurl.URL, url)
        easy.setopt(pycurl.FRESH_CONNECT, 1)
        easy.setopt(pycurl.FORBID_REUSE, 1)
        easy.setopt(pycurl.NOSIGNAL, 1)
        easy.setopt(pycurl.TIMEOUT_MS, 5000)
        easy.setopt(pycurl.WRITEFUNCTION, lambda data: None)
        multi.add_handle(easy)

    count, cpu0, begun = 0, cpu_seconds(), time.monotonic()
    end = begun + seconds
    for _ in range(concurrency):
        start()
    running = concurrency
    while running:
        multi.select(0.1)
        while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
            pass
        while True:
            queued, ok, failed = multi.info_read()
            for easy in ok:
                if easy.getinfo(pycurl.RESPONSE_CODE) != 200:
                    raise RuntimeError("not a 200")
            if failed:
                raise RuntimeError(failed[0][2])
            for easy in ok:
                multi.remove_handle(easy)
                easy.close()
                count += 1
                running -= 1
                if time.monotonic() < end:
                    start()
                    running += 1
            if not queued:
                break
    elapsed = time.monotonic() - begun
    return {"rate": count / elapsed, "cpu_us": (cpu_seconds() - cpu0) / count * 1e6}


def with_curl_loop(base: str, seconds: float, concurrency: int = 64) -> dict:
    import threading

    from monitor.checks.http.curl import CurlLoop
    from monitor.checks.http.spec import http_monitor

    loop = CurlLoop(limit=concurrency)
    monitor = http_monitor(base + "/k", timeout=5.0)
    lock = threading.Lock()
    finished = threading.Event()
    state = {"count": 0, "running": 0, "failed": None}
    count, cpu0, begun = 0, cpu_seconds(), time.monotonic()
    end = begun + seconds

    def done(result) -> None:  # noqa: ANN001 - a CheckResult
        with lock:
            state["running"] -= 1
            if result is None or not result.available:
                state["failed"] = result
            else:
                state["count"] += 1
            again = time.monotonic() < end and state["failed"] is None
            if again:
                state["running"] += 1
            elif not state["running"]:
                finished.set()
        if again:
            loop.submit(monitor, 0.0, done)

    with lock:
        state["running"] = concurrency
    for _ in range(concurrency):
        loop.submit(monitor, 0.0, done)
    finished.wait(seconds + 10)
    loop.stop()
    if state["failed"] is not None:
        raise RuntimeError(f"check failed: {state['failed']}")
    count = state["count"]
    elapsed = time.monotonic() - begun
    return {"rate": count / elapsed, "cpu_us": (cpu_seconds() - cpu0) / count * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    ensure_packages()
    with tempfile.TemporaryDirectory() as tmp, nginx(Path(tmp)) as (base, _pid, _status):
        for name, measure in (("requests", with_requests), ("http_client", with_http_client),
                              ("asyncio_raw", with_asyncio), ("pycurl_multi", with_pycurl),
                              ("curl_loop", with_curl_loop)):
            result = measure(base, args.seconds)
            figure(f"client_{name}_cpu_us_per_check", result["cpu_us"], "us",
                   checks_per_s=round(result["rate"], 1))
            print(f"{name:12s} {result['rate']:8.0f} checks/s  {result['cpu_us']:6.0f} us CPU"
                  "/check (one process, one core at most)")
    for entry in FIGURES:
        print(json.dumps(entry))


if __name__ == "__main__":
    main()
