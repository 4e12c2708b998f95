"""Every built-in kind side by side under `-m`, in the monitor's process and in probe
processes: an https site whose certificate expires in 5 days (a warning) with the tls and
content plugins, a site failing its `expect`, a TCP banner, a DNS server, this machine's
disk and a process started here; stored with their verdicts, warnings and metrics, alerted on, and
shown by `-r` with the warnings."""

import contextlib
import json
import sqlite3
import subprocess
import sys

import pytest

from tests.support.app import run_app, start, stop, wait_for
from tests.support.db import query, reading
from tests.support.dns_server import DnsServer
from tests.support.pages import PageServer
from tests.support.tcp_servers import Loopback, banner


@pytest.mark.parametrize("processes", [1, 2])
def test_every_kind_under_monitor(tmp_path, servers, pki, processes):
    soon = servers["soon"].url
    # A process for the process check to find, its command line marked.
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)",
                               f"kinds-e2e-{processes}"])
    with PageServer() as pages, Loopback(banner(b"220 ready\r\n", hold=True)) as smtp, \
            DnsServer({"app.example.": {"A": ["192.0.2.7"]}}) as dns:
        broken = pages.set("/health", json.dumps({"status": "degraded"}),
                           headers={"Content-Type": "application/json"})
        config = tmp_path / "config.json"
        interval = {"checkInterval": 0.25, "timeout": 2}
        config.write_text(json.dumps({
            "processes": processes, "alertWindow": 2, "plugins": ["tls", "content"],
            "websites": [
                {"URL": soon, "caFile": str(pki / "ca.pem"), "name": "shop", **interval},
                {"URL": broken, "expect": {"json": {"status": "ok"}}, "plugins": [],
                 **interval},
                {"type": "tcp", "host": "127.0.0.1", "port": smtp.port, "expect": "^220 ",
                 "id": "smtp", **interval},
                {"type": "dns", "name": "app.example", "server": "127.0.0.1",
                 "port": dns.port, "expect": "192.0.2.7", "id": "dns", **interval},
                {"type": "disk", "path": str(tmp_path), "maxPercent": 100, "id": "disk",
                 **interval},
                {"type": "process", "match": f"kinds-e2e-{processes}", "min": 1,
                 "id": "worker", **interval},
            ]}))
        db = tmp_path / "m.db"
        proc = start(["-m", "-s", "-c", str(config), "-db", str(db)], tmp_path)
        monitors = [soon, f"{soon}/tls", f"{soon}/content", broken, "smtp", "dns", "disk",
                    "worker"]

        def counts() -> dict[str, int]:
            with contextlib.suppress(sqlite3.OperationalError):  # tables not made yet
                return dict(query(db, "SELECT monitor, count(*) FROM"
                                      " website_monitoring GROUP BY 1"))
            return {}

        try:
            wait_for(lambda: db.exists() and all(counts().get(m, 0) >= 3 for m in monitors),
                     30, "three checks of every monitor")
            wait_for(lambda: query(db, "SELECT count(*) FROM website_alerts")[0][0], 10,
                     "the alert of the site failing its expect")
        finally:
            _, out, err = stop(proc)
            worker.kill()
            worker.wait()
    assert proc.returncode == 0, err

    def verdicts(monitor: str) -> set[tuple]:
        return set(query(db, "SELECT available, warning, reason FROM website_monitoring"
                             " WHERE monitor = ? AND reason IS NOT 'skipped'",
                         monitor))

    # The certificate 5 days from expiry: a warning, from the site and from its tls plugin.
    assert verdicts(soon) == {(1, 1, "tls_expiry")}
    assert verdicts(f"{soon}/tls") == {(1, 1, "tls_expiry")}
    # The content plugin learns the page: up; its site's certificate warns on the site only.
    assert verdicts(f"{soon}/content") == {(1, None, None)}
    assert verdicts(broken) == {(0, None, "assertion")}
    for monitor in ("smtp", "dns", "disk", "worker"):
        assert verdicts(monitor) == {(1, None, None)}, monitor
    # Each kind's measurements, stored with every check.
    metrics = {m: json.loads(query(db, "SELECT metrics FROM website_monitoring WHERE"
                                       " monitor = ? AND metrics IS NOT NULL"
                                       " LIMIT 1", m)[0][0]) for m in monitors}
    assert 4.5 < metrics[soon]["cert_days"] < 5.01
    assert 4.5 < metrics[f"{soon}/tls"]["cert_days"] < 5.01
    assert {"size", "tags"} <= set(metrics[f"{soon}/content"])
    assert "connect" in metrics["smtp"] and "query" in metrics["dns"]
    assert 0 < metrics["disk"]["value"] <= 100 and metrics["worker"]["value"] == 1
    # Alerts: the failing site only (a warning is up for availability); the warnings are
    # events of their own, once per monitor that warns.
    assert query(db, "SELECT DISTINCT monitor FROM website_alerts"
                     " WHERE type IN ('alert', 'recovery')") == [(broken,)]
    assert sorted(query(db, "SELECT monitor, type FROM website_alerts"
                            " WHERE type NOT IN ('alert', 'recovery')")) == [
        (soon, "warning"), (f"{soon}/tls", "warning")]
    # The warning now, as the views read it; and the report counts the warnings apart.
    with reading(db) as reader:
        warnings = reader.warnings()
    assert set(warnings) == {soon, f"{soon}/tls"}
    assert all(w.startswith("tls_expiry: certificate expires in") for w in warnings.values())
    report = run_app(["-r", "--once", "-db", str(db)], tmp_path)
    assert report.returncode == 0, report.stderr
    assert "warnings" in report.stdout and "tls_expiry:" in report.stdout
