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
import json
import os
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.peers import served
from bench.push import Request, load, stored
from bench.run import FIGURES, figure

TARGET_PER_S = 5000.0


def make_config(folder: Path) -> None:
    """config.json: one metric monitor, so that the engine reads the series too."""
    entry = {"type": "metric", "series": "bench.s0", "max": 1e12, "checkInterval": 5}
    path = folder / "config.json"
    path.write_text(json.dumps({"monitors": [entry]}))
    os.chmod(path, 0o600)


def requests(form: str, series: int, batch: int, turns: int = 64) -> list[Request]:
    """Requests of `batch` values each ("lines" or "json"; "none": GET /api/v1/), the series
    taken in turn."""
    if form == "none":
        return ["/api/v1/"]
    made: list[Request] = []
    for turn in range(turns):
        paths = [f"bench.s{(turn * batch + i) % series}" for i in range(batch)]
        if form == "lines":
            body = "".join(f"{path} {i}.5\n" for i, path in enumerate(paths)).encode()
            kind = "text/plain"
        else:
            grouped: dict[str, list[list[float]]] = {}
            for i, path in enumerate(paths):
                grouped.setdefault(path, []).append([time.time() - 1, i + 0.5])
            body, kind = json.dumps(grouped).encode(), "application/json"
        made.append(("POST", "/api/v1/metrics", body, {"Content-Type": kind}))
    return made


def query_time(port: int, series: int) -> tuple[float, int]:
    """Seconds to query every series over the last 5 minutes by minute; series got. (A
    10 s step would read over a million raw values, which the route refuses.)"""
    url = (f"http://127.0.0.1:{port}/api/v1/metrics/query?q=bench.*|p99&range=5m&step=60s")
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
                measured = load(port, server.pid, requests(form, args.series, batch),
                                args.seconds, args.clients, args.connections)
                ended = time.monotonic()
                measured["values"] = measured["ok"] * batch if form != "none" else 0
                expected += measured["values"]
                rows = stored(db, expected, 120.0, "series_points")
                lag = time.monotonic() - ended
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
        values_per_s = measured["per_s"] * (batch if form != "none" else 0)
        print(f"{name:<44} {measured['per_s']:>11.0f} {values_per_s:>10.0f}"
              f" {values_per_s / TARGET_PER_S:>9.2f} {measured['cpu_us'] / max(1, batch):>13.1f}"
              f" {measured['failed']:>8} {lost:>6} {lag:>9.2f}s")
        if form == "none":
            figure("ingest_reference_requests_per_s", measured["per_s"], "1/s",
                   cpu_us=round(measured["cpu_us"], 1))
            continue
        figure(f"ingest_{form}_{batch}_values_per_s", values_per_s, "1/s",
               target=TARGET_PER_S, ratio=round(values_per_s / TARGET_PER_S, 2),
               requests_per_s=round(measured["per_s"], 1),
               reference_ratio=round(measured["per_s"] / reference["per_s"], 2),
               cpu_us_per_value=round(measured["cpu_us"] / batch, 1),
               refused=measured["failed"],
               lost=lost, caught_up_s=round(lag, 2), series=args.series,
               server="serve beside -m" if args.beside else "-m --web")
        stored_before = rows
    figure("ingest_query_s", took, "s", series=got, steps=6)
    print(f"query of {got} series (p99, 5 min by minute): {took * 1000:.0f} ms;"
          f" {stored_before} values stored")
    for entry in FIGURES:
        print(json.dumps(entry))


if __name__ == "__main__":
    main()
