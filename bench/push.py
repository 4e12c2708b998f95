"""Push ingest of the real server process, measured from outside.

    python -m bench.push            # 100 push monitors, 10 s of pushes (about 40 s)
    python -m bench.push --quick    # a smoke run

`monitoringApp.py -m -s --web` runs the monitor and its server in one process, over a
config of push monitors (`--beside`: `serve` in a process of its own beside `-m -s`).
Client processes (each with keep-alive connections on threads of its own) push as fast as
they are answered for a fixed time: GET /api/v1/push/TOKEN?value=N, to every monitor in
turn. Counted: the pushes answered 200, the rows the database holds once the writer is
done (nothing may be lost), the server's CPU per push (from /proc). Beside it, in the same
run, the same clients on the same server ask GET /api/v1/ (the floor of a request through
waitress and Flask), and then one push is timed from its answer to its result in the
monitor's checks (the engine reads pushes every READ_EVERY seconds).

Prints a table, then one JSON line per figure; the target is 5,000 pushes/s on 2 cores.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

from bench.peers import served
from bench.run import FIGURES, cpu_of, figure

TARGET_PER_S = 5000.0


def make_config(folder: Path, monitors: int) -> list[str]:
    """config.json of `monitors` push monitors; their tokens."""
    tokens = [f"bench-push-token-{i:06d}" for i in range(monitors)]
    entries = [{"type": "push", "name": f"job {i}", "checkInterval": 3600, "token": token}
               for i, token in enumerate(tokens)]
    path = folder / "config.json"
    path.write_text(json.dumps({"monitors": entries}))
    os.chmod(path, 0o600)
    return tokens


# A request of a load: a path to GET, or (method, path, body, headers).
Request = str | tuple[str, str, bytes, dict[str, str]]


def _client(port: int, paths: list[Request], seconds: float, connections: int,
            results: multiprocessing.Queue) -> None:
    """One client process: `connections` keep-alive connections, each on a thread,
    asking `paths` in turn until the time is up; (answered 2xx, other answers) sent back."""
    counts = [[0, 0] for _ in range(connections)]
    deadline = time.monotonic() + seconds

    def run(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        count = counts[index]
        step = index
        while time.monotonic() < deadline:
            request = paths[step % len(paths)]
            if isinstance(request, str):
                conn.request("GET", request)
            else:
                conn.request(*request)
            answer = conn.getresponse()
            answer.read()
            count[0 if 200 <= answer.status < 300 else 1] += 1
            step += connections
        conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put((sum(c[0] for c in counts), sum(c[1] for c in counts)))


def load(port: int, pid: int, paths: list[Request], seconds: float, clients: int,
         connections: int) -> dict:
    """`clients` client processes asking `paths` for `seconds`: answers/s, failures, and
    the server's CPU per answer."""
    results: multiprocessing.Queue = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=_client, args=(port, paths[i::clients] or paths,
                                                           seconds, connections, results))
             for i in range(clients)]
    cpu0, t0 = cpu_of(pid), time.perf_counter()
    for proc in procs:
        proc.start()
    answered = [results.get(timeout=seconds + 60) for _ in procs]
    for proc in procs:
        proc.join()
    took, cpu = time.perf_counter() - t0, cpu_of(pid) - cpu0
    ok = sum(a for a, _ in answered)
    return {"ok": ok, "failed": sum(b for _, b in answered), "per_s": ok / took,
            "cpu_us": cpu / max(1, ok) * 1e6}


def count(db: Path, sql: str, *params: object) -> int:
    conn = sqlite3.connect(db.absolute().as_uri() + "?mode=ro", uri=True, timeout=30)
    try:
        return int(conn.execute(sql, params).fetchone()[0])
    finally:
        conn.close()


def stored(db: Path, expected: int, wait: float = 60.0, table: str = "pushes") -> int:
    """The rows of `table` once the writer has caught up with `expected` (or `wait`
    passed)."""
    deadline = time.monotonic() + wait
    rows = 0
    while time.monotonic() < deadline:
        rows = count(db, f"SELECT count(*) FROM {table}")
        if rows >= expected:
            break
        time.sleep(0.2)
    return rows


def judged_after(port: int, db: Path, token: str, monitor_id: str) -> float:
    """Seconds from a /fail's answer to its result among the monitor's checks."""
    mark = f"bench-{time.time_ns()}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", f"/api/v1/push/{token}/fail?msg={mark}")
    conn.getresponse().read()
    answered = time.monotonic()
    conn.close()
    while time.monotonic() - answered < 60:
        if count(db, "SELECT count(*) FROM website_monitoring WHERE monitor = ? AND detail"
                     " = ?", monitor_id, mark):
            return time.monotonic() - answered
        time.sleep(0.02)
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--monitors", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--connections", type=int, default=4, help="per client process")
    parser.add_argument("--beside", action="store_true",
                        help="serve in a process of its own beside -m (default: -m --web)")
    args = parser.parse_args()
    if args.quick:
        args.monitors, args.seconds = 10, 1.0
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-push-") as tmp:
        folder = Path(tmp)
        tokens = make_config(folder, args.monitors)
        db = folder / "monitoring.db"
        with served(folder, args.beside) as (port, server):
            reference = load(port, server.pid, ["/api/v1/"], args.seconds, args.clients,
                             args.connections)
            paths = [f"/api/v1/push/{token}?value={i}" for i, token in enumerate(tokens)]
            pushed = load(port, server.pid, paths, args.seconds, args.clients,
                          args.connections)
            rows_stored = stored(db, pushed["ok"])
            latency = judged_after(port, db, tokens[0], "push:job 0")
    lost = pushed["ok"] - rows_stored
    rows.append(("GET /api/v1/ (reference, same server, same clients)",
                 f"{reference['per_s']:.0f}/s", f"server CPU {reference['cpu_us']:.0f} us"
                 " per request"))
    rows.append(("pushes (GET /api/v1/push/TOKEN?value=N)", f"{pushed['per_s']:.0f}/s",
                 f"server CPU {pushed['cpu_us']:.0f} us per push;"
                 f" {pushed['per_s'] / TARGET_PER_S:.2f}x target,"
                 f" {pushed['per_s'] / reference['per_s']:.2f}x reference"))
    rows.append(("pushes answered / stored / lost / refused",
                 f"{pushed['ok']} / {rows_stored} / {lost} / {pushed['failed']}", ""))
    rows.append(("a /fail's answer to its result among the checks", f"{latency:.2f} s", ""))
    figure("push_reference_requests_per_s", reference["per_s"], "1/s",
           cpu_us=round(reference["cpu_us"], 1))
    figure("push_ingest_per_s", pushed["per_s"], "1/s", cpu_us=round(pushed["cpu_us"], 1),
           target=TARGET_PER_S, clients=args.clients, connections=args.connections,
           monitors=args.monitors, server="serve beside -m" if args.beside else "-m --web")
    figure("push_lost", lost, "pushes", answered=pushed["ok"], stored=rows_stored,
           refused=pushed["failed"])
    figure("push_judged_after_s", latency, "s")
    width = max(len(row[0]) for row in rows)
    for row in rows:
        print(f"{row[0]:<{width}}  {row[1]:>20}  {row[2]}")
    for entry in FIGURES:
        print(json.dumps(entry))


if __name__ == "__main__":
    main()
