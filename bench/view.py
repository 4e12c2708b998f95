"""What the live view costs at 5,000 sites: CPU per redraw (every second), per refresh of
the window's stats (every 10 s at most), against the plain tabulate table of every site
that the terminal got before, measured in the same run on the same database.

    python -m bench.view              # 5,000 sites, 160x50
    python -m bench.view --quick      # a smoke run (the test suite runs it)

The database is filled through the real writer (one check per site every 10 s for ten
minutes), then the view draws into a terminal-sized in-memory console.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

from rich.console import Console

from monitor.core.model import CheckResult
from monitor.render.live import LiveView, pulse_from_database
from monitor.render.report import window_report
from monitor.store.api import MonitorRow
from monitor.store.sqlite.queries import open_reader
from monitor.store.sqlite.writer import Store


def fill(db: Path, sites: int, minutes: int, now: float) -> int:
    store = Store(db)
    urls = [f"https://site-{i}.example/health" for i in range(sites)]
    store.set_monitors([MonitorRow(url, "http", url, "", 10.0) for url in urls])
    store.start()
    count = 0
    for step in range(minutes * 6):
        at = now - minutes * 60 + step * 10
        for i in range(sites):
            failing = i % 97 == 0 and step > minutes * 3
            store.put_check(CheckResult(
                f"https://site-{i}.example/health", at + i * 10 / sites, not failing,
                None if failing else 200, 5.0 + (i % 50) + step % 7,
                "timeout" if failing else None, mono=at))
            count += 1
    store.flush(600)
    store.close()
    return count


def cpu(function) -> float:  # type: ignore[no-untyped-def]
    started = time.process_time()
    function()
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sites", type=int, default=5000)
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--width", type=int, default=160)
    parser.add_argument("--height", type=int, default=50)
    parser.add_argument("--frames", type=int, default=30)
    args = parser.parse_args()
    if args.quick:
        args.sites, args.minutes, args.frames = 200, 2, 5
    now = time.time()
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "view.db"
        started = time.monotonic()
        checks = fill(db, args.sites, args.minutes, now)
        print(f"filled {checks} checks of {args.sites} sites in"
              f" {time.monotonic() - started:.1f} s")

        screen = io.StringIO()
        console = Console(file=screen, width=args.width, height=args.height,
                          force_terminal=True, color_system="truecolor")
        view = LiveView(db, threading.Event(), pulse_from_database, console, keys=False)

        def draw() -> None:
            screen.seek(0)
            screen.truncate()
            console.print(view.frame(now))

        refresh = cpu(draw)  # the first frame computes the window's stats too
        frames = [cpu(draw) for _ in range(args.frames)]
        lines = screen.getvalue().splitlines()

        conn = open_reader(db)
        try:
            plain = [cpu(lambda: window_report(conn, 600.0, now)) for _ in range(3)]
        finally:
            conn.close()

    redraw_ms = statistics.median(frames) * 1000
    plain_ms = statistics.median(plain) * 1000
    figures = [
        {"figure": "view_redraw_cpu_ms", "value": round(redraw_ms, 1), "unit": "ms",
         "sites": args.sites, "size": f"{args.width}x{args.height}", "target": 50},
        {"figure": "view_refresh_cpu_ms", "value": round(refresh * 1000, 1), "unit": "ms",
         "note": "first frame: the window's stats as well"},
        {"figure": "plain_table_cpu_ms", "value": round(plain_ms, 1), "unit": "ms",
         "note": "window_report: stats and tabulate of every site"},
    ]
    print(f"redraw (median of {args.frames}): {redraw_ms:.1f} ms CPU"
          f" ({'met' if redraw_ms <= 50 else 'MISSED'}: <= 50 ms);"
          f" with the window's stats: {refresh * 1000:.1f} ms;"
          f" the plain table of every site: {plain_ms:.1f} ms"
          f" ({plain_ms / redraw_ms:.1f}x a redraw); {len(lines)} lines drawn")
    for entry in figures:
        print(json.dumps(entry))


if __name__ == "__main__":
    main()
