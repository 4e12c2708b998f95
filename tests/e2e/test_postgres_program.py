"""The real program on a real PostgreSQL database (tests/support/postgres.py): `-m -db
postgresql://...` against a real local HTTP server, read back by `-r`, `-a` and the API;
two `-m` processes sharing one database over 20 monitors, one killed with SIGKILL and the
other taking its monitors over. Bounds are generous (a busy 2-core machine): what is
exact is what the rows say (no monitor checked twice in one interval, every count in the
aggregates equal to the raw rows)."""

from __future__ import annotations

import http.server
import re
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests

from tests.support import app
from tests.support.app import Output
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures

SERVING = re.compile(r"Serving (http://127\.0\.0\.1:\d+/)")
PASSWORD = "pw-never-shown-42"  # trust authentication ignores it; no output may show it
INTERVAL = 1.0
TAKEOVER_BOUND = 20.0  # seconds: the lease period (3 s) and a step, on a loaded machine


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        code = 503 if self.path.startswith("/down") else 200
        self.send_response(code)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def target() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _with_password(url: str) -> str:
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{PASSWORD}@")


def _rows(url: str, sql: str, *args: object) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()  # type: ignore[arg-type]


def test_monitor_stores_what_report_alerts_and_the_api_read(
        tmp_path: Path, postgres_url: str, target: str) -> None:  # noqa: F811
    url = _with_password(postgres_url)
    app.write(tmp_path / "config.json", {"alertWindow": 2, "monitors": [
        {"name": "up", "URL": f"{target}/up", "checkInterval": 0.5},
        {"name": "down", "URL": f"{target}/down", "checkInterval": 0.5}]})
    proc = app.start(["-m", "--plain", "--web", "127.0.0.1:0", "-db", url], tmp_path)
    output = Output(proc, stderr=True)
    line = app.wait_for(lambda: next((t for t in output.lines if SERVING.search(t)), None),
                        timeout=30, what="the Serving line", detail=output.dump)
    web = SERVING.search(line).group(1)  # type: ignore[union-attr]
    app.wait_for(lambda: output.starting("ALERT:"), timeout=30, what="the alert",
                 detail=output.dump)
    monitors = requests.get(f"{web}api/v1/monitors", timeout=10).json()
    down = next(m for m in monitors["monitors"] if m["name"] == "down")
    checks = requests.get(f"{web}api/v1/monitors/{down['id']}/checks", timeout=10).json()
    assert checks["checks"] and all(c["up"] is False and c["status"] == 503
                                    for c in checks["checks"])
    assert all(c["location"] == "local" for c in checks["checks"])
    # The alert may come with the first check (0% at once): let a few more be stored.
    app.wait_for(lambda: _rows(postgres_url, "SELECT count(*) FROM website_monitoring")[0][0]
                 >= 4, timeout=30, what="four checks stored", detail=output.dump)
    _took, out, err = app.stop(proc, signal.SIGTERM, limit=10)
    output.join()
    assert proc.returncode == 0, output.dump()
    everything = "\n".join(output.lines) + out + err + "\n".join(t for _, t in output.err)
    assert PASSWORD not in everything
    assert "postgresql://postgres:***@" in everything  # "Monitoring ... into <url>"
    stored = _rows(postgres_url, "SELECT count(*) FROM website_monitoring")[0][0]
    assert stored >= 4
    report = app.run_app(["-r", "--once", "-db", url], tmp_path)
    assert report.returncode == 0, report.stderr
    assert re.search(r"^up\s+100\.0%", report.stdout, re.M), report.stdout
    assert re.search(r"^down\s+0\.0%", report.stdout, re.M), report.stdout
    alerts = app.run_app(["-a", "--no-follow", "-db", url], tmp_path)
    assert alerts.returncode == 0 and f"Website {target}/down is down" in alerts.stdout, alerts
    assert PASSWORD not in report.stdout + report.stderr + alerts.stdout + alerts.stderr


def test_an_unreachable_server_is_one_error_line_its_password_masked(tmp_path: Path) -> None:
    url = f"postgresql://someone:{PASSWORD}@127.0.0.1:1/nowhere"
    app.write(tmp_path / "config.json", {"monitors": [{"name": "a", "URL": "http://127.0.0.1:9/"}]})
    for args in (["-r", "--once"], ["-a", "--no-follow"], ["-m", "-s"], ["purge", "30"]):
        done = app.run_app([*args, "-db", url], tmp_path, timeout=60)
        assert done.returncode == 1, (args, done)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error: "), (args, done.stderr)
        assert "cannot connect" in lines[0] and "postgresql://someone:***@" in lines[0]
        assert PASSWORD not in done.stdout + done.stderr
        assert "Traceback" not in done.stderr


def test_two_monitors_share_one_database_and_take_over_at_a_kill(
        tmp_path: Path, postgres_url: str, target: str) -> None:  # noqa: F811
    count = 20
    app.write(tmp_path / "config.json", {"monitors": [
        {"name": f"m{i:02}", "URL": f"{target}/m{i}", "checkInterval": INTERVAL}
        for i in range(count)]})
    args = ["-m", "--plain", "-db", postgres_url]
    first = app.start(args, tmp_path)
    out_a = Output(first, stderr=True)
    app.wait_for(lambda: out_a.find(out_a.out, f"LEASES: checking {count} of {count}"),
                 timeout=30, what="the first monitor's leases", detail=out_a.dump)
    second = app.start(args, tmp_path)
    out_b = Output(second, stderr=True)
    try:
        app.wait_for(lambda: out_b.find(out_b.out, f"LEASES: checking {count // 2} of"),
                     timeout=30, what="the second monitor's half", detail=out_b.dump)
        time.sleep(3 * INTERVAL)  # both checking their halves
        shared = time.time()
        first.kill()  # SIGKILL: its session ends with it, its locks go
        first.wait(10)
        killed = time.monotonic()
        took = app.wait_for(
            lambda: out_b.find(out_b.out, f"LEASES: checking {count} of {count}"),
            timeout=TAKEOVER_BOUND, what="the takeover", detail=out_b.dump)
        took_s = took[-1][0] - killed
        time.sleep(4 * INTERVAL)  # checks go on
        after = time.time()
    finally:
        if first.poll() is None:
            first.kill()
        _took, _out, _err = app.stop(second, signal.SIGTERM, limit=10)
        out_b.join()
    assert second.returncode == 0, out_b.dump()
    assert took_s < TAKEOVER_BOUND
    rows = _rows(postgres_url, "SELECT monitor, timestamp FROM website_monitoring"
                 " ORDER BY monitor, timestamp")
    times: dict[str, list[float]] = {}
    for monitor, at in rows:
        times.setdefault(monitor, []).append(at)
    assert len(times) == count  # every monitor checked
    for monitor, stamps in times.items():
        gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
        # Never checked twice in one interval (two processes at once would halve a gap).
        assert min(gaps) > INTERVAL / 2, (monitor, min(gaps))
        assert any(shared - 2 < at < shared for at in stamps), monitor  # before the kill
        assert any(at > after - 3 for at in stamps), monitor  # checked on after the kill
    # No count lost or doubled at the takeover: every minute row is its raw rows.
    mismatched = _rows(postgres_url, (
        "SELECT a.monitor, a.start, a.checks, r.n FROM aggregates a FULL JOIN ("
        " SELECT monitor, (floor(timestamp / 60) * 60)::int8 AS start, count(*) AS n"
        " FROM website_monitoring WHERE available IS NOT NULL GROUP BY 1, 2) r"
        " ON a.monitor = r.monitor AND a.start = r.start AND a.span = 60"
        " WHERE (a.span = 60 OR a.span IS NULL) AND a.checks IS DISTINCT FROM r.n"))
    assert not mismatched
