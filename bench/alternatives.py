"""What one check costs in CPU with each HTTP client we could build on, against nginx.

    python -m bench.alternatives [--seconds 5]

Each client makes GETs of a tiny 200, each on a new connection, for --seconds, and the CPU
time of this process per check is printed: requests (what the monitor uses), http.client
from the standard library (what requests rests on, without its layers), and a minimal
asyncio HTTP/1.1 client (one event loop, 64 checks at a time). It measures the room for a
leaner check path; it does not change the monitor.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    ensure_packages()
    with tempfile.TemporaryDirectory() as tmp, nginx(Path(tmp)) as (base, _pid, _status):
        for name, measure in (("requests", with_requests), ("http_client", with_http_client),
                              ("asyncio_raw", with_asyncio)):
            result = measure(base, args.seconds)
            figure(f"client_{name}_cpu_us_per_check", result["cpu_us"], "us",
                   checks_per_s=round(result["rate"], 1))
            print(f"{name:12s} {result['rate']:8.0f} checks/s  {result['cpu_us']:6.0f} us CPU"
                  "/check (one process, one core at most)")
    for entry in FIGURES:
        print(json.dumps(entry))


if __name__ == "__main__":
    main()
