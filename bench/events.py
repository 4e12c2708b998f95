"""Event streams of the real server beside a real monitor checking at 1,000/s.

    python -m bench.events            # 1,000 http monitors at 1 s, 100 streams (~5 min)
    python -m bench.events --quick    # a smoke run

nginx (installed from Debian if missing) serves a tiny 200 on loopback; `monitoringApp.py -m
--plain` checks N http monitors on it every second; `monitoringApp.py serve` beside it
serves the same database. Then, in turns of equal length, no client at all ("off"), and a
client process reading C streams of GET /api/v1/events at once ("on", one asyncio process,
every stream unfiltered: each gets every check), measured from the moment every stream is
open. Between turns a pause longer than the server's idle time, so that an "off" turn has
a server that has stopped reading, as one nobody watches does. Measured from outside:

- check lateness (the database's `lateness` column) p50/p99 of the checks started in the
  turns, "on" beside "off": the target is p99 at most 5 ms above. Also the median of the
  differences turn by turn (less moved by other processes on the machine), and the p99
  while the client opens its streams;
- the delay from a check's end (its start plus its response time) to its event read by a
  client, p50/p99, on a few streams parsed whole (the others are counted only); the target
  is 2 s (a dashboard turns a monitor red within 2 s of its check);
- events delivered per stream against the checks stored, and gaps in the ids;
- CPU of the server and of the monitor in each turn (from /proc), and of the client.

Prints a table, then one JSON line per figure, with the ratios to the targets.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.peers import ensure_packages, free_port, nginx, wait_port
from bench.run import FIGURES, cpu_of, figure

ROOT = Path(__file__).resolve().parent.parent
LATENESS_TARGET_MS = 5.0
DELAY_TARGET_S = 2.0
_ID = re.compile(rb"^id: (\d+)\.(\d+)$", re.M)
_AT = re.compile(rb'"at":([0-9.e+]+)')
_RT = re.compile(rb'"responseMs":([0-9.e+]+)')


# -- the client process: `python -m bench.events --client PORT COUNT SECONDS SAMPLE` ------------

async def _stream(port: int, parse: bool, out: dict, opened: asyncio.Queue,
                  go: asyncio.Event, until: list[float]) -> None:
    """One stream: HTTP/1.0, so the body comes unchunked until the end. Once every stream
    is open (`go`), counts its bytes and check events until `until`; a parsed stream also
    times each check's delay and notes the check ids seen."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /api/v1/events HTTP/1.0\r\nHost: bench\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    out["status"] = int(head.split(b" ", 2)[1])
    await reader.readuntil(b"\n\n")  # retry: the stream is served
    opened.put_nowait(True)
    await go.wait()
    delays: list[float] = []
    ids: list[int] = []
    count = size = 0
    pending = b""
    try:
        while (left := until[0] - time.time()) > 0:
            try:
                data = await asyncio.wait_for(reader.read(1 << 20), left)
            except TimeoutError:
                break
            if not data:
                break
            now = time.time()
            size += len(data)
            count += data.count(b"event: check\n")
            if parse:
                pending += data
                blocks, _, pending = pending.rpartition(b"\n\n")
                for block in blocks.split(b"\n\n"):
                    if b"\nevent: check\n" not in block:
                        continue
                    at, rt = _AT.search(block), _RT.search(block)
                    if at and rt:
                        delays.append(now - float(at[1]) - float(rt[1]) / 1000)
                    found = _ID.search(block)
                    if found:
                        ids.append(int(found[1]))
    finally:
        writer.close()
    out.update(count=count, bytes=size, delays=delays, ids=ids)


async def _clients(port: int, count: int, seconds: float, sample: int) -> dict:
    results: list[dict] = [{} for _ in range(count)]
    opened: asyncio.Queue = asyncio.Queue()
    go = asyncio.Event()
    until = [math.inf]
    tasks = [asyncio.ensure_future(_stream(port, i < sample, results[i], opened, go, until))
             for i in range(count)]
    for _ in range(count):
        await opened.get()
    since = time.time()
    until[0] = since + seconds
    print("ready", flush=True)  # the bench measures from here: every stream is open
    go.set()
    await asyncio.gather(*tasks)
    return {"streams": results, "since": since, "until": until[0]}


def client_main(port: int, count: int, seconds: float, sample: int) -> None:
    started = time.process_time()
    result = asyncio.run(_clients(port, count, seconds, sample))
    result["cpu_s"] = time.process_time() - started
    print(json.dumps(result), flush=True)


# -- the bench ----------------------------------------------------------------------------------

def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and of its children (the monitor's probe processes)."""
    total = 0.0
    with contextlib.suppress(OSError):  # gone meanwhile
        total += cpu_of(pid)
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += tree_cpu(int(child))
    return total


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def lateness(db: Path, since: float, until: float) -> list[float]:
    """The lateness (ms) of the checks started in [since, until), read as any reader."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return [row[0] for row in conn.execute(
            "SELECT lateness FROM website_monitoring WHERE timestamp >= ? AND timestamp < ?"
            " AND lateness IS NOT NULL AND reason IS NOT 'skipped'", (since, until))]
    finally:
        conn.close()


def check_ids(db: Path, lo: int, hi: int) -> int:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute("SELECT count(*) FROM website_monitoring WHERE id > ? AND"
                            " id <= ?", (lo, hi)).fetchone()[0]
    finally:
        conn.close()


def run(base: str, folder: Path, args: argparse.Namespace) -> dict:
    config = folder / "config.json"
    config.write_text(json.dumps({"websites": [
        {"URL": f"{base}/{i}", "checkInterval": args.interval, "timeout": 5}
        for i in range(args.monitors)]}))
    db = folder / "events.db"
    port = free_port()
    logs = [(folder / name).open("w") for name in ("monitor.txt", "serve.txt")]
    app = [sys.executable, str(ROOT / "monitoringApp.py")]
    monitor = subprocess.Popen([*app, "-m", "--plain", "-c", str(config), "-db", str(db)],
                               stdout=logs[0], stderr=subprocess.STDOUT, cwd=folder)
    serve = None
    try:
        # serve reads the database the monitor made: it starts once the file is there.
        deadline = time.monotonic() + 30
        while not db.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        serve = subprocess.Popen([*app, "serve", "--listen", f"127.0.0.1:{port}", "-c",
                                  str(config), "-db", str(db)],
                                 stdout=logs[1], stderr=subprocess.STDOUT, cwd=folder)
        wait_port(port, 30)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=10):
            pass
        time.sleep(args.warmup)
        turns: list[dict] = []
        for round_ in range(args.rounds):
            for on in (False, True):
                turns.append(_turn(db, port, monitor.pid, serve.pid, on, args, round_))
                time.sleep(args.gap)  # checks of the turn before are left out
    finally:
        for proc in (serve, monitor):
            if proc is not None and proc.poll() is None:
                proc.send_signal(2)
        for proc in (serve, monitor):
            if proc is not None:
                try:
                    proc.wait(120)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        for log in logs:
            log.close()
    (folder / "turns.json").write_text(json.dumps(
        [{k: v for k, v in t.items() if k != "clients"} for t in turns]))
    return _summary(db, turns, args)


def _turn(db: Path, port: int, monitor_pid: int, serve_pid: int, on: bool,
          args: argparse.Namespace, round_: int) -> dict:
    clients = None
    started = time.time()
    if on:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.events", "--client", str(port), str(args.clients),
             str(args.seconds), str(args.sample)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        assert proc.stdout is not None
        ready = proc.stdout.readline()
        cpu = (tree_cpu(monitor_pid), cpu_of(serve_pid))
        out, err = proc.communicate(timeout=args.seconds + 120)
        cpu = (tree_cpu(monitor_pid) - cpu[0], cpu_of(serve_pid) - cpu[1])
        if proc.returncode != 0 or ready.strip() != "ready":
            raise RuntimeError(f"the client process failed: {err[-2000:]}")
        clients = json.loads(out)
        since, until = clients["since"], clients["until"]
    else:
        cpu = (tree_cpu(monitor_pid), cpu_of(serve_pid))
        since = time.time()
        time.sleep(args.seconds)
        until = time.time()
        cpu = (tree_cpu(monitor_pid) - cpu[0], cpu_of(serve_pid) - cpu[1])
    return {"on": on, "round": round_, "started": started, "since": since, "until": until,
            "monitor_cpu": cpu[0], "serve_cpu": cpu[1], "clients": clients}


def _summary(db: Path, turns: list[dict], args: argparse.Namespace) -> dict:
    result: dict = {}
    for on in (False, True):
        mine = [t for t in turns if t["on"] == on]
        values: list[float] = []
        seconds = 0.0
        for turn in mine:
            # An "on" turn is measured once every stream is open (opening them is apart).
            turn["lateness"] = lateness(db, turn["since"], turn["until"])
            values += turn["lateness"]
            seconds += turn["until"] - turn["since"]
        result["on" if on else "off"] = {
            "checks": len(values), "checks_per_s": len(values) / seconds,
            "p50": _quantile(values, 0.5), "p99": _quantile(values, 0.99),
            "monitor_cpu": sum(t["monitor_cpu"] for t in mine) / seconds,
            "serve_cpu": sum(t["serve_cpu"] for t in mine) / seconds}
    # Each "on" turn beside the "off" turn before it: the median of their p99s' differences
    # is less moved by what other processes on the machine do meanwhile.
    pairs = [_quantile(b["lateness"], 0.99) - _quantile(a["lateness"], 0.99)
             for a, b in zip(turns[::2], turns[1::2], strict=True)]
    result["paired_p99_above"] = statistics.median(pairs)
    # Apart: while the client process starts and opens its streams.
    opening = [v for t in turns if t["on"] for v in lateness(db, t["started"], t["since"])]
    result["opening"] = {"p99": _quantile(opening, 0.99), "seconds": statistics.mean(
        t["since"] - t["started"] for t in turns if t["on"])}
    result["pairs"] = pairs
    streams = [s for t in turns if t["clients"] for s in t["clients"]["streams"]]
    delays = [d for s in streams for d in s.get("delays", ())]
    lost = []
    for s in streams:
        ids = s.get("ids") or []
        if len(ids) > 1:
            # Every check between the first and last seen must have come (ids may skip
            # numbers only where no row is).
            lost.append(check_ids(db, ids[0], ids[-1]) - (len(ids) - 1))
    on_seconds = sum(t["until"] - t["since"] for t in turns if t["on"])
    result["streams"] = {
        "opened": len(streams), "ok": sum(1 for s in streams if s.get("status") == 200),
        "events_per_stream_s": statistics.mean(s["count"] for s in streams) / args.seconds
        if streams else 0.0,
        "mb_per_s": sum(s["bytes"] for s in streams) / on_seconds / 1e6 if on_seconds else 0,
        "delay_p50": _quantile(delays, 0.5), "delay_p99": _quantile(delays, 0.99),
        "delays": len(delays), "lost": sum(lost), "parsed": len(lost),
        "client_cpu": sum(t["clients"]["cpu_s"] for t in turns if t["clients"]) / on_seconds
        if on_seconds else 0.0}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--monitors", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--sample", type=int, default=5, help="streams parsed whole")
    parser.add_argument("--seconds", type=float, default=10.0, help="one turn")
    parser.add_argument("--rounds", type=int, default=6, help="pairs of turns off, on")
    parser.add_argument("--warmup", type=float, default=15.0)
    # Longer than the server's idle time (Settings.idle): an "off" turn begins once the
    # server has stopped reading, as one nobody watches does.
    parser.add_argument("--gap", type=float, default=12.0)
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="work in DIR and leave the database and the turns there")
    parser.add_argument("--client", nargs=4, metavar=("PORT", "COUNT", "SECONDS", "SAMPLE"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        port, count, seconds, sample = args.client
        client_main(int(port), int(count), float(seconds), int(sample))
        return
    if args.quick:
        args.monitors, args.clients, args.seconds, args.rounds, args.warmup = 100, 10, 4, 1, 4
        args.gap = 2.0
    ensure_packages(["nginx"])
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        with nginx(folder) as (base, _pid, _status):
            result = run(base, folder, args)
    off, on, streams = result["off"], result["on"], result["streams"]
    above = on["p99"] - off["p99"]
    figure("events_lateness_p99_above_no_clients_ms", above, "ms",
           ratio_to_target=round(above / LATENESS_TARGET_MS, 3),
           target_ms=LATENESS_TARGET_MS, off_p99=round(off["p99"], 2),
           on_p99=round(on["p99"], 2), off_p50=round(off["p50"], 2),
           on_p50=round(on["p50"], 2), checks_off=off["checks"], checks_on=on["checks"])
    figure("events_lateness_p99_above_paired_median_ms", result["paired_p99_above"], "ms",
           ratio_to_target=round(result["paired_p99_above"] / LATENESS_TARGET_MS, 3),
           pairs=[round(x, 2) for x in result["pairs"]])
    figure("events_delay_p99_s", streams["delay_p99"], "s",
           ratio_to_target=round(streams["delay_p99"] / DELAY_TARGET_S, 3),
           target_s=DELAY_TARGET_S, p50_s=round(streams["delay_p50"], 3),
           events_timed=streams["delays"])
    figure("events_streams", streams["ok"], "streams", opened=streams["opened"],
           events_per_stream_s=round(streams["events_per_stream_s"], 1),
           checks_per_s=round(on["checks_per_s"], 1), lost=streams["lost"],
           mb_per_s=round(streams["mb_per_s"], 2))
    figure("events_cpu_cores", on["serve_cpu"], "cores", serve_off=round(off["serve_cpu"], 3),
           monitor_on=round(on["monitor_cpu"], 3), monitor_off=round(off["monitor_cpu"], 3),
           client=round(streams["client_cpu"], 3))
    print(f"load average at the end: {Path('/proc/loadavg').read_text().strip()}")
    print(f"{args.monitors} http monitors at {args.interval:g} s on nginx; `serve` beside"
          f" `-m`; {args.rounds} x ({args.seconds:g} s without clients, {args.seconds:g} s"
          f" with {args.clients} event streams):")
    print(f"  checks/s              off {off['checks_per_s']:8.1f}   on {on['checks_per_s']:8.1f}")
    print(f"  lateness p50 (ms)     off {off['p50']:8.2f}   on {on['p50']:8.2f}")
    print(f"  lateness p99 (ms)     off {off['p99']:8.2f}   on {on['p99']:8.2f}   "
          f"+{above:.2f} ms = {above / LATENESS_TARGET_MS:.2f} x the 5 ms allowed")
    paired = result["paired_p99_above"]
    print(f"  p99 on minus off, turn by turn: {', '.join(f'{x:+.1f}' for x in result['pairs'])}"
          f" ms; median {paired:+.2f} ms = {paired / LATENESS_TARGET_MS:.2f} x the 5 ms allowed")
    print(f"  while the client starts and opens its {args.clients} streams"
          f" ({result['opening']['seconds']:.1f} s): lateness p99"
          f" {result['opening']['p99']:.2f} ms")
    print(f"  CPU serve (cores)     off {off['serve_cpu']:8.3f}   on {on['serve_cpu']:8.3f}")
    print(f"  CPU monitor (cores)   off {off['monitor_cpu']:8.3f}   on {on['monitor_cpu']:8.3f}")
    print(f"  streams {streams['ok']}/{streams['opened']} answered 200;"
          f" {streams['events_per_stream_s']:.1f} check events/s each;"
          f" {streams['mb_per_s']:.1f} MB/s in all; client CPU {streams['client_cpu']:.2f}"
          " cores")
    print(f"  check end -> event at the client: p50 {streams['delay_p50'] * 1000:.0f} ms,"
          f" p99 {streams['delay_p99'] * 1000:.0f} ms ="
          f" {streams['delay_p99'] / DELAY_TARGET_S:.2f} x the 2 s allowed"
          f" ({streams['delays']} events timed on {streams['parsed']} streams,"
          f" {streams['lost']} missing)")
    for entry in FIGURES:
        print(json.dumps(entry))


if __name__ == "__main__":
    main()
