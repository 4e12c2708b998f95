"""Makes tests/data/schema8.db, a real schema-8 database written by the monitor of its time,
and tests/data/schema8.json, what the code of that time read from it.

Written by `monitoringApp.py -m` of commit 1341ce7 (schema 8: from c5a870f to cbd4236;
1341ce7 is the last commit whose code gave the plugged monitor of a site ending in "/"
the id "<site>//tls", which schema 9 renames), run for about 20 s against loopback
servers started here:
- "flaky": an http site that goes down (503) long enough to raise an alert, then
  recovers; "broken": one that goes down and stays down (an alert still open at the end);
- "shop": https://127.0.0.1:<port>/ (its URL ends in "/") with the tls plugin, so the
  monitor "https://127.0.0.1:<port>//tls" exists; its certificate expires in 5 days: both
  warn (warning rows in the alerts);
- "tcp:127.0.0.1:<port>": a tcp monitor (its target differs from its id), with a
  maintenance window of the config over a few seconds of the run;
- a webhook provider (outbox rows, sent), and `maintenance on shop --for 1h` near the end
  (the maintenance table holds the site and its plugged "//tls" monitor).
schema8.json holds what the readers of 1341ce7 answered on the file: the stats of a few
windows, the `-r` tables at a fixed time, the alert state a restart restores, the outbox
and `-a`'s output, so that tests/store/test_schema9.py can compare the migrated file with
them.

To make it again (the ports, times and figures change; the tests read them from the files):

    git worktree add /tmp/schema8 1341ce7
    .venv/bin/python tests/data/make_schema8.py /tmp/schema8
    git worktree remove /tmp/schema8

run from the repository's root (the servers come from tests/).
"""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from tests.support.pages import PageServer  # noqa: E402
from tests.support.receivers import WebhookReceiver  # noqa: E402
from tests.support.tcp_servers import Loopback  # noqa: E402
from tests.support.tls_servers import TLSServer, make_pki  # noqa: E402

RUN_FOR = 20.0  # seconds of monitoring

# Run with the old code (cwd: its worktree): what its readers answer on the file.
READ_OLD = r"""
import json, subprocess, sys
from monitor.store.sqlite.queries import open_reader
from monitor.stats import window_stats
from monitor.render.report import window_report

path, now = sys.argv[1], float(sys.argv[2])
reader = open_reader(path)
first = reader.conn.execute("SELECT min(timestamp) FROM website_monitoring").fetchone()[0]
windows = [(first - 1, now), (first + 5.5, first + 12.25), (first + 7, now)]
ids = [m.id for m in reader.active_monitors()]
alerts = [row[0] for row in reader.alerts_after()]
out = {
    "now": now,
    "windows": windows,
    "stats": [{k: s._asdict() for k, s in window_stats(reader, lo, hi).items()}
              for lo, hi in windows],
    "report": [window_report(reader, seconds, now=now) for seconds in (600, 3600)],
    "alerts": reader.alerts_after(),
    "open_alerts": reader.open_alerts(),
    "latest_alert_rows": {m: {g: list(r) for g, r in groups.items()}
                          for m, groups in reader.latest_alert_rows().items()},
    "warnings": reader.warnings(),
    "in_maintenance": reader.in_maintenance(),
    "maintenance": reader.maintenance(),
    "monitor_states": reader.monitor_states(),
    "ever_up": sorted(reader.ever_up()),
    "active_monitors": [list(m) for m in reader.active_monitors()],
    "recent_verdicts": reader.recent_verdicts(first - 1, now),
    "failure_causes": reader.failure_causes(first - 1, now),
    "alert_types": {m: reader.alert_types(m) for m in ids},
    "latest_alerts": {m: reader.latest_alerts(m, 10) for m in ids},
    "deliveries": {a: [list(d) for d in ds] for a, ds in reader.deliveries(alerts).items()},
    "alerts_output": subprocess.run(
        [sys.executable, "monitoringApp.py", "-a", "--no-follow", "-db", path],
        capture_output=True, text=True, check=True).stdout,
}
reader.close()
print(json.dumps(out))
"""


def iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def run_old(worktree: Path, work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(worktree / "monitoringApp.py"), *args],
                          cwd=work, capture_output=True, text=True, timeout=60, check=True)


def main(worktree: Path) -> None:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=worktree,
                          capture_output=True, text=True, check=True).stdout.strip()
    if head != "1341ce7":
        sys.exit(f"{worktree} is at {head}, not 1341ce7")
    work = Path(tempfile.mkdtemp(prefix="schema8-"))
    pki = make_pki(work)
    db = work / "monitoring.db"
    with PageServer() as pages, WebhookReceiver() as hook:
        flaky = pages.set("/flaky", "ok")
        broken = pages.set("/broken", "ok")
        shop = TLSServer(pki / "soon.pem", pki / "key.pem")
        tcp = Loopback(lambda conn: conn.recv(1))
        start = time.time()
        config = {
            "websites": [
                {"URL": flaky, "name": "flaky", "checkInterval": 0.25, "alertWindow": 2},
                {"URL": broken, "name": "broken", "checkInterval": 0.25, "alertWindow": 2},
                {"URL": shop.url + "/", "name": "shop", "checkInterval": 0.5,
                 "caFile": str(pki / "ca.pem"), "plugins": ["tls"]},
                {"type": "tcp", "host": "127.0.0.1", "port": tcp.port,
                 "checkInterval": 0.5,
                 "maintenance": {"from": iso(start + 7), "to": iso(start + 11)}},
            ],
            "notify": [{"name": "hook", "url": hook.url("json")}],
        }
        (work / "config.json").write_text(json.dumps(config, indent=2))
        proc = subprocess.Popen([sys.executable, str(worktree / "monitoringApp.py"), "-m",
                                 "-s", "-db", str(db)], cwd=work, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(4)
            pages.set("/flaky", "down", status=503)
            pages.set("/broken", "down", status=503)
            time.sleep(5)
            pages.set("/flaky", "ok")
            time.sleep(RUN_FOR - 12)
            run_old(worktree, work, "maintenance", "on", "shop", "--for", "1h", "-db", str(db))
            time.sleep(3)
        finally:
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=30)
            shop.close()
            tcp.close()
        if proc.returncode != 0:
            sys.exit(f"the monitor failed ({proc.returncode}):\n{out}\n{err}")
        hook.wait_for(3, 10)  # flaky's alert and recovery, broken's alert
    target = HERE / "schema8.db"
    target.unlink(missing_ok=True)
    conn = sqlite3.connect(db)
    conn.execute(f"VACUUM INTO '{target}'")
    conn.close()
    conn = sqlite3.connect(target)
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    newest = conn.execute("SELECT max(timestamp) FROM website_monitoring").fetchone()[0]
    conn.close()
    assert version == 8, version
    found = subprocess.run([sys.executable, "-c", READ_OLD, str(target), str(newest + 1)],
                           cwd=worktree, capture_output=True, text=True, check=True).stdout
    (HERE / "schema8.json").write_text(json.dumps(json.loads(found), indent=1) + "\n")
    shutil.rmtree(work)
    print(f"{target}: {target.stat().st_size} bytes, made by 1341ce7")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(Path(sys.argv[1]).resolve())
