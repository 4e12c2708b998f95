"""Metric ingest of the real server process, measured from outside.

    python -m bench.ingest            # 10 s per turn, 1,000 series (about a minute)
    python -m bench.ingest --quick    # a smoke run

`monitoringApp.py -m -s --web` runs the monitor and its server in one process (`--beside`:
`serve` in a process of its own beside `-m -s`), over a config of one metric monitor.
Client processes (each with keep-alive connections on threads of its own) POST
/api/v1/metrics as fast as they are answered, for a fixed time per turn: Graphite lines
in batches of `--batch` values, the same as JSON, and one value per request. Counted: the
values answered 202, the raw points the database holds once the writer has caught up
(nothing may be lost) and how long that took after the turn, the requests refused (503:
more values waiting for the writer than it may hold), the server's CPU per value (from
/proc). Beside them, in the same run, the same clients ask GET /api/v1/ (the floor
of a request through waitress and Flask). Then a query of every series at its finest
step is timed.

Prints a table, then one JSON line per figure; the target is 5,000 values/s on 2 cores.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from bench.peers import served
from bench.push import count
from bench.run import FIGURES, cpu_of, figure

TARGET_PER_S = 5000.0
ACCEPTED = (200, 202)


def make_config(folder: Path) -> None:
    """config.json: one metric monitor, so that the engine reads the series too."""
    entry = {"type": "metric", "series": "bench.s0", "max": 1e12, "checkInterval": 5}
    path = folder / "config.json"
    path.write_text(json.dumps({"monitors": [entry]}))
    os.chmod(path, 0o600)


def bodies(form: str, series: int, batch: int, turns: int = 64) -> list[tuple[bytes, str, int]]:
    """Request bodies of `batch` values each ("lines", "json" or "none": GET /api/v1/):
    (body, content type, values in it), the series taken in turn."""
    made = []
    for turn in range(turns):
        paths = [f"bench.s{(turn * batch + i) % series}" for i in range(batch)]
        if form == "lines":
            text = "".join(f"{path} {i}.5\n" for i, path in enumerate(paths))
            made.append((text.encode(), "text/plain", batch))
        elif form == "json":
            grouped: dict[str, list[list[float]]] = {}
            for i, path in enumerate(paths):
                grouped.setdefault(path, []).append([time.time() - 1, i + 0.5])
            made.append((json.dumps(grouped).encode(), "application/json", batch))
        else:
            made.append((b"", "", 0))
    return made


def _client(port: int, form: str, series: int, batch: int, seconds: float,
            connections: int, results: multiprocessing.Queue) -> None:
    """One client process: `connections` keep-alive connections on threads, sending its
    bodies in turn until the time is up; (requests answered, values accepted, others)."""
    made = bodies(form, series, batch)
    counts = [[0, 0, 0] for _ in range(connections)]
    deadline = time.monotonic() + seconds

    def run(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        tally = counts[index]
        step = index
        while time.monotonic() < deadline:
            body, kind, values = made[step % len(made)]
            if kind:
                conn.request("POST", "/api/v1/metrics", body, {"Content-Type": kind})
            else:
                conn.request("GET", "/api/v1/")
            answer = conn.getresponse()
            answer.read()
            if answer.status in ACCEPTED:
                tally[0] += 1
                tally[1] += values
            else:
                tally[2] += 1
            step += connections
        conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(tuple(sum(c[i] for c in counts) for i in range(3)))


def turn(port: int, pid: int, form: str, series: int, batch: int, seconds: float,
         clients: int, connections: int) -> dict:
    """One turn of `clients` processes: requests/s, values/s, refusals, server CPU."""
    results: multiprocessing.Queue = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_client, args=(port, form, series, batch,
                                                           seconds, connections, results))
             for _ in range(clients)]
    cpu0, t0 = cpu_of(pid), time.perf_counter()
    for proc in procs:
        proc.start()
    answered = [results.get(timeout=seconds + 120) for _ in procs]
    for proc in procs:
        proc.join()
    took, cpu = time.perf_counter() - t0, cpu_of(pid) - cpu0
    requests, values, refused = (sum(a[i] for a in answered) for i in range(3))
    return {"requests": requests, "values": values, "refused": refused,
            "requests_per_s": requests / took, "values_per_s": values / took,
            "cpu_us": cpu / max(1, values or requests) * 1e6, "ended": time.monotonic()}


def caught_up(db: Path, expected: int, since: float, wait: float = 120.0) -> tuple[int, float]:
    """The raw points stored once the writer has caught up with `expected` (or `wait`
    passed), and how long after `since` (a turn's end) that was."""
    deadline = time.monotonic() + wait
    rows = 0
    while time.monotonic() < deadline:
        rows = count(db, "SELECT count(*) FROM series_points")
        if rows >= expected:
            break
        time.sleep(0.05)
    return rows, time.monotonic() - since


def query_time(port: int, series: int) -> tuple[float, int]:
    """Seconds to query every series over the last 5 minutes at 10 s steps; series got."""
    url = (f"http://127.0.0.1:{port}/api/v1/metrics/query?q=bench.*|p99&range=5m&step=10s")
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as answer:
        body = json.loads(answer.read())
    return time.perf_counter() - started, len(body["series"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=500, help="values per request")
    parser.add_argument("--seconds", type=float, default=10.0, help="per turn")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--connections", type=int, default=2, help="per client process")
    parser.add_argument("--beside", action="store_true",
                        help="serve in a process of its own beside -m (default: -m --web)")
    args = parser.parse_args()
    if args.quick:
        args.series, args.seconds = 50, 1.0
    plan = [("GET /api/v1/ (reference: the request floor)", "none", 1),
            (f"Graphite lines, {args.batch} values a request", "lines", args.batch),
            (f"JSON, {args.batch} values a request", "json", args.batch),
            ("JSON, 1 value a request", "json", 1)]
    done: list[tuple[str, str, int, dict, int, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        folder = Path(tmp)
        make_config(folder)
        db = folder / "monitoring.db"
        with served(folder, args.beside) as (port, server):
            expected = 0
            for name, form, batch in plan:
                measured = turn(port, server.pid, form, args.series, batch, args.seconds,
                                args.clients, args.connections)
                expected += measured["values"]
                rows, lag = caught_up(db, expected, measured["ended"])
                done.append((name, form, batch, measured, rows, lag))
            took, got = query_time(port, args.series)
    reference = done[0][3]
    print(f"{'turn':<44} {'requests/s':>11} {'values/s':>10} {'x target':>9}"
          f" {'CPU us/value':>13} {'refused':>8} {'lost':>6} {'caught up':>10}")
    stored_before = 0
    accepted_before = 0
    for name, form, batch, measured, rows, lag in done:
        accepted_before += measured["values"]
        lost = accepted_before - rows
        values_per_s = measured["values_per_s"]
        print(f"{name:<44} {measured['requests_per_s']:>11.0f} {values_per_s:>10.0f}"
              f" {values_per_s / TARGET_PER_S:>9.2f} {measured['cpu_us']:>13.1f}"
              f" {measured['refused']:>8} {lost:>6} {lag:>9.2f}s")
        if form == "none":
            figure("ingest_reference_requests_per_s", measured["requests_per_s"], "1/s",
                   cpu_us=round(measured["cpu_us"], 1))
            continue
        figure(f"ingest_{form}_{batch}_values_per_s", values_per_s, "1/s",
               target=TARGET_PER_S, ratio=round(values_per_s / TARGET_PER_S, 2),
               requests_per_s=round(measured["requests_per_s"], 1),
               reference_ratio=round(measured["requests_per_s"]
                                     / reference["requests_per_s"], 2),
               cpu_us_per_value=round(measured["cpu_us"], 1), refused=measured["refused"],
               lost=lost, caught_up_s=round(lag, 2), series=args.series,
               server="serve beside -m" if args.beside else "-m --web")
        stored_before = rows
    figure("ingest_query_s", took, "s", series=got, steps=31)
    print(f"query of {got} series (p99, 5 min at 10 s): {took * 1000:.0f} ms;"
          f" {stored_before} values stored")
    for entry in FIGURES:
        print(json.dumps(entry))


if __name__ == "__main__":
    main()
