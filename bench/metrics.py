"""`GET /metrics` of the real server process for 5,000 monitors, measured from outside.

    python -m bench.metrics            # 5,000 monitors (about a minute to fill)
    python -m bench.metrics --quick    # a smoke run (the test suite runs it)

A database of 5,000 monitors (http with phase times and a certificate, tcp, tls; some down
with an alert open, some warning, some in maintenance, notifications waiting) is filled
through the real writer: a check of each every 10 minutes over the past two hours, the
writer's clock moving with them so that the hours are rolled up as they would be, and a
last one of each in the past minute (the pace of 5,000 monitors checked every minute). Then
`monitoringApp.py serve` runs over it in a process of its own, and this process times GETs
(keep-alive, as Prometheus scrapes): /metrics as Prometheus asks for it (OpenMetrics,
gzip), in the text format, and uncompressed; beside it, in the same run, the same server's
trivial /api/v1/ and the Prometheus blackbox exporter's own /metrics when installed. The
server's CPU per scrape is read from /proc. Nothing is cached between scrapes.

In this process, the same families are also written by prometheus_client's generate_latest:
why /metrics writes the per-monitor families itself (monitor.web.exposition).

Prints a table, then one JSON line per figure; the target is 200 ms for 5,000 monitors.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import gzip
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest

from bench.peers import free_port, process, wait_port
from bench.run import FIGURES, SimulatedClock, cpu_of, figure
from monitor.config import load_config
from monitor.core.model import CheckResult, Monitor
from monitor.store.api import AlertRecord, Delivery, SetMaintenance, iso_utc
from monitor.store.sqlite.queries import open_reader
from monitor.store.sqlite.writer import Store
from monitor.web.exposition import client_family, render
from monitor.web.prometheus import GZIP_LEVEL, monitor_families

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 200.0
OPENMETRICS = "application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5"


def make_config(folder: Path, monitors: int) -> Path:
    """config.json of `monitors` monitors: 80% http, 10% tcp, 10% tls."""
    listed: list[dict] = []
    for i in range(monitors):
        if i % 10 == 8:
            listed.append({"type": "tcp", "host": f"db-{i}.example", "port": 5432})
        elif i % 10 == 9:
            listed.append({"type": "tls", "host": f"mail-{i}.example", "port": 993})
        else:
            listed.append({"URL": f"https://site-{i}.example/health", "name": f"site {i}"})
    path = folder / "config.json"
    path.write_text(json.dumps({"monitors": listed}))
    os.chmod(path, 0o600)
    return path


def check(monitor: Monitor, index: int, ts: float, mono: float) -> CheckResult:
    """The check of a monitor at `ts`: 2% down for good (a timeout), 3% warning (the
    certificate close to expiry), the rest up with a spread of times."""
    response = 20.0 + (index * 37 + int(ts)) % 180
    if index % 50 == 7:
        return CheckResult(monitor.id, ts, False, None, 5000.0, "timeout", "no answer in 5 s",
                           mono=mono)
    metrics: dict[str, float] = {}
    if monitor.kind in ("http", "tls"):
        metrics = {"dns": response * 0.05, "connect": response * 0.15,
                   "tls": response * 0.3}
        if monitor.kind == "http":
            metrics |= {"ttfb": response * 0.4, "total": response}
        metrics["cert_days"] = 5.0 if index % 33 == 5 else 60.0 + index % 300
    elif monitor.kind == "tcp":
        metrics = {"dns": response * 0.05, "connect": response * 0.2}
    warning = metrics.get("cert_days") == 5.0
    return CheckResult(monitor.id, ts, True, 200 if monitor.kind == "http" else None,
                       response, "tls_expiry" if warning else None,
                       "certificate expires in 5.0 days" if warning else "", mono=mono,
                       metrics=metrics, warning=warning)


def fill(config_path: Path, db: Path, hours: float, interval: float, now: float) -> int:
    """The monitors' checks over the past `hours` through the real writer, its clock moving
    with them (hours roll up as they end); alerts of those down, with notifications."""
    monitors = load_config(config_path, warn=lambda _line: None).monitors
    start = now - hours * 3600
    clock = SimulatedClock(start)
    store = Store(db, clock=clock)
    store.set_monitors(monitors)
    store.start()
    written = 0
    rounds = int(hours * 3600 / interval)
    for step in range(rounds):
        ts = start + step * interval
        clock.now = ts
        for index, monitor in enumerate(monitors):
            store.put_check(check(monitor, index, ts + interval * index / len(monitors),
                                  float(step)))
        written += len(monitors)
        if step % 10 == 9:
            store.flush(600)
    # The latest round in the past minute, as monitors checked every minute have it.
    clock.now = now
    for index, monitor in enumerate(monitors):
        store.put_check(check(monitor, index, now - 60 + 60 * index / len(monitors),
                              float(rounds)))
    written += len(monitors)
    for index, monitor in enumerate(monitors):
        if index % 50 == 7:  # down for good: an alert open, its notification waiting
            store.put_alert(AlertRecord(iso_utc(start + 120), monitor.id, "alert",
                                        iso_utc(start), None, 0.0, f"{monitor.label} is down",
                                        deliveries=(Delivery("ops", "alert", "ALERT", "down"),)))
        elif index % 50 == 8:  # in maintenance now
            store.set_maintenance(SetMaintenance(monitor.id, now - 60, None))
            store.put_check(CheckResult(monitor.id, now - 1, None, None, 0.0, "maintenance",
                                        "by hand", mono=float(rounds + 1)))
    store.flush(600)
    store.close()
    return written


def timed_gets(port: int, path: str, headers: dict[str, str], count: int,
               pid: int | None = None) -> dict:
    """`count` GETs on one keep-alive connection (after one not timed): times in ms, the
    body's size, and the server's CPU per GET."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        size = len(_get(conn, path, headers))
        cpu0 = cpu_of(pid) if pid is not None else 0.0
        times = []
        for _ in range(count):
            t0 = time.perf_counter()
            _get(conn, path, headers)
            times.append((time.perf_counter() - t0) * 1000)
        cpu = (cpu_of(pid) - cpu0) / count * 1000 if pid is not None else None
    finally:
        conn.close()
    return {"median": statistics.median(times), "p90": sorted(times)[int(0.9 * len(times))],
            "bytes": size, "cpu_ms": cpu}


def _get(conn: http.client.HTTPConnection, path: str, headers: dict[str, str]) -> bytes:
    conn.request("GET", path, headers=headers)
    answer = conn.getresponse()
    body = answer.read()
    if answer.status != 200:
        raise RuntimeError(f"GET {path}: {answer.status} {body[:200]!r}")
    return body


@contextlib.contextmanager
def serve(folder: Path, config: Path, db: Path) -> Iterator[tuple[int, int]]:
    """`monitoringApp.py serve` over the database: (its port, its pid)."""
    port = free_port()
    args = [sys.executable, str(ROOT / "monitoringApp.py"), "serve", "--listen",
            f"127.0.0.1:{port}", "-c", str(config), "-db", str(db)]
    with process(args, port, cwd=folder) as proc:
        yield port, proc.pid


@contextlib.contextmanager
def blackbox_exporter(folder: Path) -> Iterator[int | None]:
    """The blackbox exporter (if installed) idle on a free port: its own /metrics is a Go
    exporter's, the peer's figure for a scrape."""
    if shutil.which("prometheus-blackbox-exporter") is None:
        yield None
        return
    port = free_port()
    config = folder / "blackbox.yml"
    config.write_text("modules:\n  http_2xx:\n    prober: http\n")
    args = ["prometheus-blackbox-exporter", f"--config.file={config}",
            f"--web.listen-address=127.0.0.1:{port}", "--log.level=error"]
    with process(args, port):
        wait_port(port)
        yield port


def in_process(db: Path, now: float, repeat: int) -> dict:
    """The parts of a scrape in this process, median CPU ms of each: the store's reads,
    the families made of them, written by render() and by prometheus_client's
    generate_latest (text and OpenMetrics), and compressed."""
    reader = open_reader(db)
    ids, families = monitor_families(reader, now)
    client = [client_family(f, ids) for f in families]
    body = "".join(render(families, ids, True)).encode()

    class Registry:
        def collect(self) -> list:
            return client

    figures = {
        "summaries": _median(reader.monitor_summaries, repeat),
        "day_counts": _median(lambda: reader.day_counts(int(now // 86400) * 86400), repeat),
        "read": _median(lambda: monitor_families(reader, now), repeat),
        "render_text": _median(lambda: "".join(render(families, ids, False)), repeat),
        "render_openmetrics": _median(lambda: "".join(render(families, ids, True)),
                                      repeat),
        "gzip": _median(lambda: gzip.compress(body, compresslevel=GZIP_LEVEL), repeat),
        "client_text": _median(lambda: generate_latest(Registry()), repeat),
        "client_openmetrics": _median(lambda: openmetrics_latest(Registry()), repeat),
        "samples": sum(len(f.samples) for f in families),
    }
    reader.close()
    return figures


def _median(function: Callable[[], object], repeat: int) -> float:
    """Median CPU ms of `function` in this process (CPU, not wall: the machine may be busy),
    the cycle collector held off as the server holds it during a scrape."""
    times = []
    for _ in range(repeat):
        gc.disable()
        t0 = time.process_time()
        function()
        times.append((time.process_time() - t0) * 1000)
        gc.enable()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--monitors", type=int, default=5000)
    parser.add_argument("--hours", type=float, default=2.0)
    parser.add_argument("--gets", type=int, default=20)
    args = parser.parse_args()
    if args.quick:
        args.monitors, args.hours, args.gets = 200, 1.0, 3
    now = time.time()
    rows: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-metrics-") as tmp:
        folder = Path(tmp)
        config = make_config(folder, args.monitors)
        db = folder / "monitoring.db"
        t0 = time.perf_counter()
        checks = fill(config, db, args.hours, 600.0, now)
        print(f"filled {db.name}: {args.monitors} monitors, {checks} checks in"
              f" {time.perf_counter() - t0:.1f} s", flush=True)
        with serve(folder, config, db) as (port, pid), blackbox_exporter(folder) as peer:
            reference = timed_gets(port, "/api/v1/", {}, args.gets, pid)
            scrapes = {
                "as Prometheus asks (OpenMetrics, gzip)": timed_gets(
                    port, "/metrics", {"Accept": OPENMETRICS, "Accept-Encoding": "gzip"},
                    args.gets, pid),
                "text format, gzip": timed_gets(
                    port, "/metrics", {"Accept-Encoding": "gzip"}, args.gets, pid),
                "text format, uncompressed": timed_gets(port, "/metrics", {}, args.gets, pid),
            }
            blackbox = timed_gets(peer, "/metrics", {}, args.gets) if peer else None
        local = in_process(db, now, max(3, args.gets // 4))
    rows.append(("GET /api/v1/ (reference, same server)", f"{reference['median']:.1f} ms",
                 f"p90 {reference['p90']:.1f} ms", f"{reference['bytes']} bytes"))
    figure("api_root_ms", reference["median"], "ms", p90=round(reference["p90"], 1))
    if blackbox is not None:
        rows.append(("blackbox exporter's /metrics (peer)", f"{blackbox['median']:.1f} ms",
                     f"p90 {blackbox['p90']:.1f} ms", f"{blackbox['bytes']} bytes"))
        figure("blackbox_metrics_ms", blackbox["median"], "ms", bytes=blackbox["bytes"])
    for what, found in scrapes.items():
        rows.append((f"GET /metrics, {what}", f"{found['median']:.1f} ms",
                     f"p90 {found['p90']:.1f} ms, server CPU {found['cpu_ms']:.0f} ms",
                     f"{found['bytes']} bytes, {found['median'] / TARGET_MS:.2f}x target"))
        figure("metrics_ms", found["median"], "ms", how=what, monitors=args.monitors,
               p90=round(found["p90"], 1), bytes=found["bytes"],
               server_cpu_ms=round(found["cpu_ms"], 1),
               target_ratio=round(found["median"] / TARGET_MS, 2),
               vs_api_root=round(found["median"] / reference["median"], 1))
    rows.append((f"in process, CPU: read and made ({local['samples']} samples)",
                 f"{local['read']:.1f} ms", f"summaries {local['summaries']:.1f} ms,"
                 f" day counts {local['day_counts']:.1f} ms", ""))
    for fmt in ("text", "openmetrics"):
        ours, theirs = local[f"render_{fmt}"], local[f"client_{fmt}"]
        rows.append((f"in process, CPU: written, {fmt}", f"{ours:.1f} ms",
                     f"prometheus_client {theirs:.1f} ms", f"{theirs / ours:.1f}x faster"))
        figure(f"render_{fmt}_ms", ours, "ms", prometheus_client_ms=round(theirs, 1))
    rows.append(("in process, CPU: gzip (OpenMetrics)", f"{local['gzip']:.1f} ms", "", ""))
    figure("gzip_ms", local["gzip"], "ms", level=GZIP_LEVEL)
    load = os.getloadavg()
    rows.append((f"machine load (1, 5 min), {os.cpu_count()} cores",
                 f"{load[0]:.1f}, {load[1]:.1f}", "", ""))
    figure("load_average", load[0], "runnable", five_minutes=round(load[1], 2),
           cores=os.cpu_count())
    figure("store_reads_ms", local["read"], "ms", samples=local["samples"],
           summaries_ms=round(local["summaries"], 1), day_counts_ms=round(local["day_counts"], 1))
    width = max(len(r[0]) for r in rows)
    for row in rows:
        print(f"{row[0]:<{width}}  {row[1]:>10}  {row[2]:<34} {row[3]}")
    for found in FIGURES:
        print(json.dumps(found))


if __name__ == "__main__":
    main()
