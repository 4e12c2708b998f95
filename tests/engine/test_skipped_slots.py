"""A site that hangs longer than its interval: every slot counts, not only the checks that
ran. A slot that finds the previous check still running shares that check's verdict, so
availability reflects the time the site was not answering (issue: 127 rows for 140 slots,
64.3% reported where the site was up 58.4% of the time)."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from monitor.config import Config
from monitor.core.model import CheckResult
from monitor.engine import Engine, skipped_slots
from monitor.stats import window_stats
from monitor.store.sqlite.queries import open_reader
from monitor.store.sqlite.writer import Store
from tests.conftest import make_site
from tests.support.app import Output, start, stop, wait_for, write
from tests.support.db import count_checks, query
from tests.support.tls_servers import TLSServer

URL = "http://site.test/"


def test_skipped_slots_share_the_verdict_of_the_check_that_covered_them():
    failed = CheckResult(URL, 1_000.0, False, None, 2000.0, "timeout", "no answer", 3.0,
                         mono=50.0, skipped=(51.0, 52.0))
    rows = skipped_slots(failed)
    assert [(r.timestamp, r.mono, r.available, r.code, r.reason) for r in rows] == [
        (1_001.0, 51.0, False, None, "skipped"), (1_002.0, 52.0, False, None, "skipped")]
    assert rows[0].detail == "the previous check was still running; it ended timeout: no answer"
    slow = CheckResult(URL, 1_000.0, True, 200, 1500.0, mono=50.0, skipped=(51.0,))
    assert [(r.available, r.detail) for r in skipped_slots(slow)] == [
        (True, "the previous check was still running; it ended up, code 200")]
    warned = CheckResult(URL, 1_000.0, True, 200, 1500.0, "tls_expiry", "expires in 5.0 days",
                         mono=50.0, skipped=(51.0,), warning=True)
    # A slot skipped by a check that warns warns too: it stands for that check.
    assert [(r.available, r.warning, r.reason, r.detail) for r in skipped_slots(warned)] == [
        (True, True, "skipped", "the previous check was still running; it ended up with a"
                                " warning, tls_expiry: expires in 5.0 days")]
    assert skipped_slots(CheckResult(URL, 1_000.0, True, 200, 5.0, mono=50.0)) == []
    # A slot skipped while the check still waited for a worker (it began at 50.0, late):
    # the monitor's own delay, not evidence about the site.
    late = CheckResult(URL, 1_000.0, False, None, 2000.0, "timeout", "no answer", 600.0,
                       mono=50.0, skipped=(49.6, 51.0))
    assert [r.mono for r in skipped_slots(late)] == [51.0]


def engine_of(db) -> Engine:
    """An engine recording the one site (1 s interval, 2-minute window) into `db`."""
    config = Config(monitors=(make_site(URL, interval=1.0, window=120.0),))
    return Engine(config, Store(db)).restore()


def test_skipped_slots_are_stored_counted_and_in_the_alert_window(tmp_path):
    db = tmp_path / "m.db"
    engine = engine_of(db)
    now, mono = time.time(), time.monotonic()
    engine.record(CheckResult(URL, now - 10, True, 200, 5.0, mono=mono - 10))
    engine.record(CheckResult(URL, now - 9, False, None, 3000.0, "timeout", "no answer",
                              mono=mono - 9, skipped=(mono - 8, mono - 7)))
    assert (engine.checks_done, engine.slots_skipped) == (2, 2)
    assert engine.alerts.availability(URL) == 0.25
    engine.store.close()
    conn = open_reader(db)
    stats = window_stats(conn, now - 60, now)[URL]
    conn.close()
    assert (stats.checks, stats.skipped, stats.availability) == (4, 2, 0.25)
    assert stats.reasons == {"timeout": 1}


class _Phased(BaseHTTPRequestHandler):
    hang = threading.Event()  # set: answers come after 1.5 s, beyond the checks' timeout

    def do_GET(self):  # noqa: N802 - http.server's name
        if self.hang.is_set():
            time.sleep(1.5)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def test_availability_of_a_hanging_site_matches_the_time_it_answered(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Phased)
    server.daemon_threads = True
    server.handle_error = lambda request, address: None  # a check that gave up: expected
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    interval, timeout = 0.2, 0.5  # a hanging check covers two or three slots
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"websites": [
        {"URL": url, "checkInterval": interval, "timeout": timeout}]}))
    db = str(tmp_path / "m.db")
    proc = start(["-m", "-s", "-c", str(config), "-db", db], tmp_path)
    try:
        wait_for(lambda: count_checks(db, url) >= 3, 15, "the first checks")
        time.sleep(2.0)
        hang_from = time.time()
        _Phased.hang.set()
        time.sleep(3.0)
        _Phased.hang.clear()
        hang_to = time.time()
        time.sleep(2.0)
        _, _, err = stop(proc)
    finally:
        _Phased.hang.clear()
        if proc.poll() is None:
            proc.kill()
        server.shutdown()
    assert proc.returncode == 0, err
    rows = query(db, "SELECT timestamp, available, reason FROM website_monitoring"
                     " ORDER BY timestamp")
    first, last = rows[0][0], rows[-1][0]
    slots = round((last - first) / interval) + 1
    # Every slot has a row: the checks that ran and the slots they made skip.
    assert slots - 3 <= len(rows) <= slots + 1, (len(rows), slots)
    skipped = [r for r in rows if r[2] == "skipped"]
    # A hanging check runs 0.5 s: it takes its own slot and makes the next two skip.
    assert len(skipped) >= 0.8 * 2 * 3.0 / 0.6, len(skipped)
    truth = 1 - (hang_to - hang_from) / (last - first + interval)
    measured = sum(ok for _, ok, _ in rows) / len(rows)
    # Within the resolution of the interval: a slot or three at each edge of the stretch
    # (a check begun just before it hangs for its whole timeout).
    assert abs(measured - truth) <= 4 * interval / (last - first), (measured, truth)


def test_slots_skipped_by_a_check_that_warns_warn_too(tmp_path):
    # Issue 21, 9: the rows of the slots a slow check of a warning monitor made skip were
    # stored with `warning` NULL and read as "no longer warns": CLEARED, then WARNING again.
    db = tmp_path / "m.db"
    engine = engine_of(db)
    now, mono = time.time(), time.monotonic()

    def warns(at: float, skipped: tuple[float, ...] = ()) -> CheckResult:
        return CheckResult(URL, now + at, True, 200, 5.0 if not skipped else 2500.0,
                           "tls_expiry", "certificate expires in 5.0 days",
                           mono=mono + at, skipped=skipped, warning=True)

    engine.record(warns(-10))
    engine.record(warns(-9, skipped=(mono - 8, mono - 7)))  # 2.5 s: two slots skipped
    engine.record(warns(-6))
    engine.store.close()
    assert query(db, "SELECT type FROM website_alerts") == [("warning",)]
    assert query(db, "SELECT reason, warning FROM website_monitoring ORDER BY timestamp") == [
        ("tls_expiry", 1), ("tls_expiry", 1), ("skipped", 1), ("skipped", 1),
        ("tls_expiry", 1)]
    conn = open_reader(db)
    stats = window_stats(conn, now - 60, now)[URL]
    # The skipped slots are counted as such, as those of a check up or down are.
    assert (stats.checks, stats.skipped, stats.availability) == (5, 2, 1.0)
    assert stats.warnings == {"tls_expiry": 3}
    assert conn.warnings() == {URL: "tls_expiry: certificate expires in 5.0 days"}
    conn.close()


def test_the_warning_shown_after_skipped_slots_is_the_checks_own(tmp_path):
    # The skipped rows are the newest: the monitor's warning now (the live view, -r) stays
    # the check's, not "skipped: the previous check was still running...".
    db = tmp_path / "m.db"
    engine = engine_of(db)
    now, mono = time.time(), time.monotonic()
    engine.record(CheckResult(URL, now - 9, True, 200, 2500.0, "tls_expiry",
                              "certificate expires in 5.0 days", mono=mono - 9,
                              skipped=(mono - 8, mono - 7), warning=True))
    engine.store.close()
    conn = open_reader(db)
    assert conn.warnings() == {URL: "tls_expiry: certificate expires in 5.0 days"}
    conn.close()


class _SlowOnce(TLSServer):
    """A TLS site whose certificate expires in 5 days; one answer, when asked, in 2.5 s."""

    def __init__(self, cert, key):
        self.slow = threading.Event()
        super().__init__(cert, key)

    def _answer(self, raw):
        if self.slow.is_set():
            self.slow.clear()
            time.sleep(2.5)
        super()._answer(raw)


def test_a_slow_check_of_a_warning_site_says_nothing_new_in_the_program(pki, tmp_path):
    server = _SlowOnce(pki / "soon.pem", pki / "key.pem")
    try:
        write(tmp_path / "config.json", {"websites": [
            {"URL": server.url + "/", "name": "shop", "caFile": str(pki / "ca.pem"),
             "checkInterval": 1, "timeout": 4}]})
        proc = start(["-m", "--plain"], tmp_path)
        out = Output(proc)
        try:
            wait_for(lambda: out.starting("WARNING: "), 15, "the warning",
                     lambda: "\n".join(out.lines))
            server.slow.set()
            db = tmp_path / "monitoring.db"
            wait_for(lambda: query(db, "SELECT count(*) FROM website_monitoring WHERE"
                                   " reason = 'skipped'")[0][0] >= 2, 15, "two skipped slots")
            # Two checks after the slow one, which still warn.
            wait_for(lambda: query(db, "SELECT count(*) FROM website_monitoring WHERE"
                                   " reason = 'tls_expiry' AND timestamp > (SELECT"
                                   " max(timestamp) FROM website_monitoring WHERE reason ="
                                   " 'skipped')")[0][0] >= 2, 15, "the checks after it")
        finally:
            _, _, err = stop(proc)
            out.join()
    finally:
        server.close()
    assert err == ""
    assert len(out.starting("WARNING: ")) == 1, out.lines
    assert not out.starting("CLEARED: "), out.lines
