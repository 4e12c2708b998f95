"""Secrets from the environment reach the site and nothing else: not the output of -m, -r,
-a or --validate, not the alerts, not the database. The database is its owner's alone."""

import base64
import http.server
import json
import stat
import threading

import pytest

from tests.support.app import run_app, start, stop, wait_for, write
from tests.support.db import count_checks, query

PASSWORD = "pw-Zq81-secret"
TOKEN = "tok-Xk29-secret"


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list = []
    redirects: dict = {}

    def do_GET(self):  # noqa: N802 - the name http.server calls
        self.seen.append({**self.headers, "path": self.path})
        if self.path in self.redirects:
            self.send_response(302)
            self.send_header("Location", self.redirects[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        # The failure echoes what it was sent, as careless servers do in error pages.
        body = f"denied: {self.path} {self.headers.get('Authorization')}".encode()
        self.send_response(500 if self.path.startswith("/fail") else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def recorder():
    _Recorder.seen = []
    _Recorder.redirects = {}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield server, _Recorder.seen
    server.shutdown()
    server.server_close()


def test_credentials_never_leave_the_check(recorder, tmp_path):
    server, seen = recorder
    port = server.server_address[1]
    env = {"MON_PASS": PASSWORD, "MON_TOKEN": TOKEN}
    config = tmp_path / "config.json"
    write(config, {"websites": [
        {"URL": f"http://ops:${{MON_PASS}}@127.0.0.1:{port}/fail?token=${{MON_TOKEN}}",
         "checkInterval": 0.2},
        {"URL": f"http://127.0.0.1:{port}/fail-too",
         "headers": {"Authorization": "Bearer ${MON_TOKEN}"}, "checkInterval": 0.2},
        {"URL": f"http://127.0.0.1:{port}/ok", "headers": {"X-Api-Key": "${MON_TOKEN}"},
         "checkInterval": 0.2},
        # Refused: an error detail built from the request, with the URL in it.
        {"URL": "http://ops:${MON_PASS}@127.0.0.1:1/?key=${MON_TOKEN}", "timeout": 0.5,
         "checkInterval": 0.2},
    ], "alertWindow": 1})
    db = tmp_path / "m.db"
    outputs = []
    validate = run_app(["--validate", "-c", str(config)], tmp_path, env=env, timeout=30)
    outputs += [validate.stdout, validate.stderr]
    assert validate.returncode == 0, validate.stderr

    proc = start(["-m", "-c", str(config), "-db", str(db)], tmp_path, env=env)
    try:
        wait_for(lambda: count_checks(db) >= 30 and query(db, "SELECT count(*) FROM"
                                                              " website_alerts")[0][0] >= 3,
                 15, "checks and the alerts")
        for args in (["-r", "--once"], ["-a", "--no-follow"]):
            done = run_app([*args, "-db", str(db)], tmp_path, env=env, timeout=30)
            assert done.returncode == 0, done.stderr
            outputs += [done.stdout, done.stderr]
    finally:
        _, out, err = stop(proc)
    outputs += [out, err]
    assert "ALERT: Website http://ops:***@127.0.0.1:" in out

    # The credentials did reach the site, as they should.
    basic = base64.b64encode(f"ops:{PASSWORD}".encode()).decode()
    authorizations = {h.get("Authorization") for h in seen}
    assert {f"Basic {basic}", f"Bearer {TOKEN}"} <= authorizations
    assert any(h.get("X-Api-Key") == TOKEN for h in seen)

    # Nowhere else: outputs, and every value in the database.
    for text in outputs:
        assert PASSWORD not in text and TOKEN not in text
    rows = []
    for table in ("website_monitoring", "website_alerts", "aggregates", "monitor_state",
                  "monitors"):
        rows += query(db, f"SELECT * FROM {table}")
    text = repr(rows)
    assert "ops:***@" in text
    assert PASSWORD not in text and TOKEN not in text


def test_database_files_are_readable_by_their_owner_only(tmp_path):
    config = tmp_path / "config.json"
    write(config, {"websites": [{"URL": "http://127.0.0.1:1/", "checkInterval": 0.2,
                                 "timeout": 0.2}]})
    db = tmp_path / "m.db"
    proc = start(["-m", "-s", "-c", str(config), "-db", str(db)], tmp_path)
    try:
        wait_for(lambda: count_checks(db) >= 3, 10, "checks")
        modes = {path.name: stat.S_IMODE(path.stat().st_mode)
                 for path in tmp_path.iterdir() if path.name.startswith("m.db")}
    finally:
        stop(proc)
    # The WAL and its index hold the same rows as the database itself.
    assert modes == {"m.db": 0o600, "m.db-wal": 0o600, "m.db-shm": 0o600,
                     "m.db.lock": 0o600}


def test_url_credentials_follow_a_redirect_on_the_same_site_only(recorder, watchdog):
    from monitor.checks.execute import run_check
    from tests.conftest import make_site

    server, seen = recorder
    port = server.server_address[1]
    # /redirect answers 302 to an absolute URL on the same host, without the credentials.
    _Recorder.redirects = {"/start": f"http://127.0.0.1:{port}/ok-next",
                           "/away": f"http://localhost:{port}/ok-elsewhere"}
    basic = "Basic " + base64.b64encode(f"ops:{PASSWORD}".encode()).decode()
    site = make_site(f"http://ops:{PASSWORD}@127.0.0.1:{port}/start", timeout=2.0,
                     headers=(("X-Api-Key", TOKEN),))
    assert run_check(site, watchdog).available
    assert [(h["path"], h.get("Authorization"), h.get("X-Api-Key")) for h in seen] == [
        ("/start", basic, TOKEN), ("/ok-next", basic, TOKEN)]
    seen.clear()
    site = make_site(f"http://ops:{PASSWORD}@127.0.0.1:{port}/away", timeout=2.0,
                     headers=(("X-Api-Key", TOKEN),))
    assert run_check(site, watchdog).available
    # Another host: neither the URL's credentials nor the secret header go along.
    assert [(h["path"], h.get("Authorization"), h.get("X-Api-Key")) for h in seen] == [
        ("/away", basic, TOKEN), ("/ok-elsewhere", None, None)]


def test_redact_known_masks_the_secrets_of_the_configs_loaded(monkeypatch):
    from monitor.config import parse_config
    from monitor.core import secrets

    monkeypatch.setenv("MON_PASS", PASSWORD)
    monkeypatch.setenv("MON_TOKEN", "tok/Xk29 s@cret")
    parse_config(json.dumps({
        "websites": [{"URL": "http://ops:${MON_PASS}@127.0.0.1:1/"}],
        "canary": {"URL": "http://127.0.0.1:2/", "headers": {"X-Api-Key": "${MON_TOKEN}"}}}))
    # As written, and as an error quoting a URL would percent-encode it.
    text = (f"ConnectionError: http://ops:{PASSWORD}@127.0.0.1:1/ refused; "
            "X-Api-Key: tok/Xk29 s@cret; /?k=tok%2FXk29%20s%40cret")
    assert secrets.redact_known(text) == ("ConnectionError: http://ops:***@127.0.0.1:1/"
                                          " refused; X-Api-Key: ***; /?k=***")


def test_redact_known_keeps_a_few_configs_only():
    from monitor.config import parse_config
    from monitor.core import secrets

    def load(n):
        parse_config(json.dumps({"websites": [{"URL": f"http://u:old-secret-{n}@127.0.0.1/"}]}))

    load(0)
    for n in range(1, 1000):
        load(n)
        # The previous config's checks may still be in flight after a reload.
        assert secrets.redact_known(f"old-secret-{n - 1}") == "***"
    assert secrets.redact_known("old-secret-0 old-secret-990") == "old-secret-0 old-secret-990"
    assert len(secrets._known) < 50
