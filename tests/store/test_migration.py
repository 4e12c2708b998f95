"""Schema 4 -> 5 on a real database written by the schema-4 store (tests/legacy): history
kept, the same window stats, alert history and alert restore as the old code gave, and
new checks keyed by monitor id (SQLite only: migrations of its files); and, on both stores
(the `backend` fixture), alerts restored by id and the metrics' aggregates of schema 5."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest

from monitor.core.model import CheckResult
from monitor.stats import window_stats
from monitor.store.api import MonitorRow
from monitor.store.codec import bucket_of, bucket_value
from monitor.store.sqlite.queries import open_reader
from monitor.store.sqlite.schema import SCHEMA_VERSION
from monitor.store.sqlite.writer import Store
from tests.legacy import stats_v4, store_v4
from tests.store.conftest import Backend
from tests.support.app import run_app

BASE = 1_700_000_040.0  # a whole minute
A = "https://a.example/"
B = "https://user:***@b.example/x?token=***"
C = "http://c.example/"
WINDOWS = [(0, 1800), (0, 600), (125.5, 1333.3), (600, 1790), (61, 119), (1200, 1800)]


def random_check(rng: random.Random, monitor_id: str, ts: float) -> CheckResult:
    roll = rng.random()
    if roll < 0.8:
        return CheckResult(monitor_id, ts, True, 200, rng.uniform(5, 400), mono=ts - BASE)
    if roll < 0.9:
        return CheckResult(monitor_id, ts, False, 503, rng.uniform(5, 50), "http_status",
                           "HTTP 503", mono=ts - BASE)
    if roll < 0.97:
        return CheckResult(monitor_id, ts, False, None, 2000.0, "timeout", "timed out",
                           mono=ts - BASE)
    return CheckResult(monitor_id, ts, None, None, 0.0, "offline", "monitor offline",
                       mono=ts - BASE)


def old_alert(host: str, at: float, kind: str, start: float,
              end: float | None = None) -> store_v4.AlertRecord:
    iso = store_v4.iso_utc
    return store_v4.AlertRecord(iso(at), host, kind, iso(start),
                                iso(end) if end is not None else None, 0.5,
                                f"{kind} of {host} at {at}")


def old_restore_state(path: Path, since: float, until: float) -> tuple[dict, dict]:
    """What the schema-4 engine read to restore its alerts (its SQL, verbatim)."""
    conn = sqlite3.connect(path)
    try:
        recent: dict[str, list[tuple[float, bool]]] = {}
        for host, ts, ok in conn.execute(
            "SELECT host, timestamp, available FROM website_monitoring WHERE timestamp"
            " BETWEEN ? AND ? AND available IS NOT NULL ORDER BY timestamp", (since, until)):
            recent.setdefault(host, []).append((ts, bool(ok)))
        open_alerts = {
            host: start for host, kind, start in conn.execute(
                "SELECT host, type, startDate FROM website_alerts WHERE id IN"
                " (SELECT max(id) FROM website_alerts GROUP BY host)")
            if kind == "alert"
        }
    finally:
        conn.close()
    return recent, open_alerts


def v4_file(path: Path, first: float, seconds: int) -> Path:
    """`seconds` of three sites from `first`, alerts (A's closed, B's open) and a site list,
    as the schema-4 store wrote them."""
    rng = random.Random(4)
    store = store_v4.Store(path)
    store.write_sites([(A, "site A", 2.0), (B, "", 3.0), (C, "c", 5.0)])
    store.start()
    for step in range(0, seconds, 2):
        for monitor_id in (A, B, C):
            store.put_check(random_check(rng, monitor_id, first + step + rng.random()))
    store.put_alert(old_alert(A, first + 300, "alert", first + 290))
    store.put_alert(old_alert(A, first + 400, "recovery", first + 290, first + 400))
    store.put_alert(old_alert(B, first + seconds - 100, "alert", first + seconds - 150))
    store.close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone() == (4,)
    return path


@pytest.fixture
def v4_db(tmp_path: Path) -> Path:
    """Half an hour of three sites, as the schema-4 store wrote it."""
    return v4_file(tmp_path / "monitor.db", BASE, 1800)


def old_answers(path: Path) -> tuple[dict, list, tuple]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        stats = {window: stats_v4.window_stats(conn, BASE + window[0], BASE + window[1])
                 for window in WINDOWS}
        alerts = conn.execute("SELECT id, message FROM website_alerts ORDER BY id").fetchall()
    finally:
        conn.close()
    return stats, alerts, old_restore_state(path, BASE + 1680, BASE + 1800)


# SQLite only: a migration of its files' schema.
def test_a_schema_4_database_keeps_its_answers_after_the_upgrade(v4_db: Path) -> None:
    stats_before, alerts_before, (recent_before, open_before) = old_answers(v4_db)
    rows_before = sqlite3.connect(v4_db).execute(
        "SELECT count(*) FROM website_monitoring").fetchone()[0]

    Store(v4_db).close()  # the upgrade, in its numbered steps

    raw = sqlite3.connect(v4_db)
    assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    # Schema 9 names every row's monitor: an http monitor's id is its (masked) URL.
    assert raw.execute("SELECT count(*), sum(monitor = host), count(metrics)"
                       " FROM website_monitoring").fetchone() == (rows_before, rows_before, 0)
    raw.close()
    reader = open_reader(v4_db)
    try:
        for window, before in stats_before.items():
            after = window_stats(reader, BASE + window[0], BASE + window[1])
            assert list(after) == list(before), window
            for monitor_id, old in before.items():
                # The same figures, field by field; schema 5 adds the phases (none here).
                assert tuple(after[monitor_id])[:len(old)] == tuple(old), (window, monitor_id)
                assert after[monitor_id].phases == {}
        assert reader.alerts_after() == alerts_before
        assert reader.recent_verdicts(BASE + 1680, BASE + 1800) == recent_before
        assert reader.open_alerts() == open_before == {B: store_v4.iso_utc(BASE + 1650)}
        assert reader.alert_types(A) == ["alert", "recovery"]
        assert [(m.id, m.kind, m.target, m.name) for m in reader.active_monitors()] == [
            (A, "http", A, "site A"), (B, "http", B, ""), (C, "http", C, "c")]
    finally:
        reader.close()


# SQLite only: a migration of its files' schema.
def test_new_checks_after_the_upgrade_are_keyed_by_monitor_id(v4_db: Path) -> None:
    dns = MonitorRow("dns:c.example", "dns", "c.example", "resolver", 5.0)
    store = Store(v4_db)
    store.set_monitors([MonitorRow(A, "http", A, "site A", 2.0), dns])
    store.start()
    at = BASE + 1800
    store.put_check(CheckResult(A, at + 1, True, 200, 50.0, mono=1801.0))
    store.put_check(CheckResult(dns.id, at + 2, True, 0, 3.0, mono=1802.0))
    store.put_check(CheckResult(dns.id, at + 3, False, None, 1000.0, "timeout", mono=1803.0))
    store.close()

    raw = sqlite3.connect(v4_db)
    assert raw.execute("SELECT host, monitor FROM website_monitoring WHERE timestamp > ?"
                       " ORDER BY id", (at,)).fetchall() == [
        (A, A), ("c.example", dns.id), ("c.example", dns.id)]
    assert sorted(raw.execute("SELECT monitor, kind, target, active FROM monitors")) == sorted([
        (A, "http", A, 1), (B, "http", B, 0), (C, "http", C, 0),
        (dns.id, "dns", "c.example", 1)])
    raw.close()
    reader = open_reader(v4_db)
    try:
        stats = window_stats(reader, at, at + 60)
        assert set(stats) == {A, dns.id}
        assert (stats[dns.id].checks, stats[dns.id].availability) == (2, 0.5)
        assert stats[dns.id].statuses == {"0": 1}
        assert stats[dns.id].reasons == {"timeout": 1}
        # A's history goes on: the old half hour and the new check in one window.
        whole = window_stats(reader, BASE, at + 60, [A])[A]
        old = window_stats(reader, BASE, at - 0.001, [A])[A]
        assert whole.checks == old.checks + 1
        assert reader.monitor_states()[dns.id][1] == at + 3  # down since its timeout
        assert [m.id for m in reader.active_monitors()] == [A, dns.id]
    finally:
        reader.close()


def test_alerts_of_a_monitor_whose_target_differs_are_restored_by_id(backend: Backend) -> None:
    # On both stores (the `backend` fixture).
    from monitor.store.api import AlertRecord, iso_utc

    dns = MonitorRow("dns:c.example", "dns", "c.example")
    store = backend.make()
    store.set_monitors([dns])
    store.put_alert(AlertRecord(iso_utc(BASE), dns.id, "alert", iso_utc(BASE - 10), None,
                                0.2, "down"))
    store.close()
    reader = backend.reader()
    assert reader.open_alerts() == {dns.id: iso_utc(BASE - 10)}
    assert reader.alert_types(dns.id) == ["alert"]
    assert backend.read("SELECT host, monitor FROM website_alerts") == [("c.example", dns.id)]


PHASES = ("dns", "connect", "tls", "ttfb", "total")


def nearest_rank(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, -int(-p / 100.0 * len(ordered) // 1)) - 1]


@pytest.mark.parametrize(("start", "end"), [(0, 3000), (0, 600), (37.5, 1290.2),
                                            (601, 659), (1234, 2999)])
def test_phase_percentiles_equal_brute_force(backend: Backend, start: float, end: float,
                                            ) -> None:
    # On both stores (the `backend` fixture): the metrics' aggregates of schema 5.
    rng = random.Random(7)
    checks = []
    for step in range(0, 3000, 3):
        ts = BASE + step + rng.random()
        dns = rng.uniform(0.5, 30)
        phases = {"dns": dns, "connect": dns + rng.uniform(1, 40)}
        if rng.random() < 0.7:  # some checks are plain http: no tls
            phases["tls"] = phases["connect"] + rng.uniform(5, 80)
        phases["ttfb"] = max(phases.values()) + rng.uniform(1, 300)
        phases["total"] = phases["ttfb"] + rng.uniform(0, 20)
        checks.append(CheckResult(A, ts, True, 200, phases["total"], mono=ts - BASE,
                                  metrics=phases))
        checks.append(CheckResult(C, ts, True, 200, 10.0, mono=ts - BASE))  # no metrics
    # Unknown checks (the monitor offline) count in no figure, metrics included.
    checks.append(CheckResult(A, BASE + 700.5, None, None, 0.0, "offline",
                              metrics={"dns": 1e6}))
    store = backend.make().start()
    for i, c in enumerate(checks):
        store.put_check(c)
        if i % 300 == 0:
            store.flush()
    store.close()
    stats = window_stats(backend.reader(), BASE + start, BASE + end)
    assert stats[C].phases == {}
    inside = [c for c in checks if c.monitor_id == A and c.available is not None
              and BASE + start <= c.timestamp <= BASE + end]
    phases = stats[A].phases
    assert set(phases) == set(PHASES)
    for name in PHASES:
        values = [c.metrics[name] for c in inside if name in c.metrics]
        for got, p in zip(phases[name], (50, 90), strict=True):
            exact = nearest_rank(values, p)
            # The histogram's bucket of the exact value, within the bucket's 2.5%.
            assert got == pytest.approx(
                min(max(bucket_value(bucket_of(exact)), min(values)), max(values)),
                rel=1e-9) or abs(got - exact) <= 0.025 * exact, (name, p, got, exact)


# SQLite only: a migration of its files' schema.
def test_schema_7_alert_rows_keep_their_ids_and_outbox_and_take_the_new_types(
        v4_db: Path) -> None:
    from monitor.store.api import AlertRecord, SetMaintenance, iso_utc
    from monitor.store.sqlite.migrations import STEPS

    raw = sqlite3.connect(v4_db, isolation_level=None)
    for step in STEPS[3:6]:  # 4 -> 7, as a database of the previous version has it
        step(raw)
    raw.execute("PRAGMA user_version=7")
    raw.execute("INSERT INTO outbox (alert, key, provider, event, title, body, created)"
                " VALUES (3, '3:ops', 'ops', 'alert', 't', 'b', 0)")
    before = raw.execute("SELECT * FROM website_alerts ORDER BY id").fetchall()
    with pytest.raises(sqlite3.IntegrityError):  # schema 7 took alert and recovery only
        raw.execute("INSERT INTO website_alerts (timestamp, host, type, startDate,"
                    " availability, message) VALUES ('t', 'h', 'reminder', 's', 0, 'm')")
    raw.close()

    store = Store(v4_db)
    store.put_alert(AlertRecord(iso_utc(BASE + 1750), B, "reminder", iso_utc(BASE + 1650),
                                None, 0.0, "still down"))
    store.set_maintenance(SetMaintenance(C, BASE, None))
    store.close()

    raw = sqlite3.connect(v4_db)
    # The same rows, their monitor named (schema 9: the target, for these http monitors).
    assert raw.execute("SELECT * FROM website_alerts WHERE id <= 3 ORDER BY id"
                       ).fetchall() == [(*row[:-1], row[2]) for row in before]
    assert raw.execute("SELECT alert, key FROM outbox").fetchall() == [(3, "3:ops")]
    assert raw.execute("SELECT name FROM sqlite_master WHERE type='index' AND"
                       " tbl_name='website_alerts' ORDER BY name").fetchall() == [
        ("website_alerts_host",), ("website_alerts_monitor",)]
    with pytest.raises(sqlite3.IntegrityError):
        raw.execute("INSERT INTO website_alerts (timestamp, host, type, startDate,"
                    " availability, message) VALUES ('t', 'h', 'bogus', 's', 0, 'm')")
    raw.close()
    reader = open_reader(v4_db)
    try:
        assert reader.alert_types(B) == ["alert", "reminder"]
        assert reader.open_alerts() == {B: store_v4.iso_utc(BASE + 1650)}  # still open
        latest = reader.latest_alert_rows()[B]["alert"]
        assert (latest.type, latest.start) == ("reminder", iso_utc(BASE + 1650))
        assert reader.maintenance() == {C: (BASE, None)}
    finally:
        reader.close()


# SQLite only: a migration of its files' schema.
def test_the_readers_open_a_schema_4_database_before_any_monitor_upgraded_it(
        v4_db: Path) -> None:
    # Issue 21, 15: `-r --once` failed with "no such table: metric_aggs" (-a worked). A
    # reader brings an older database up to date, as the monitor does at its start.
    for args in (["-r", "--once"], ["-a", "--no-follow"], ["maintenance", "list", "-c",
                                                            "none.json"]):
        if args[0] == "maintenance":
            (v4_db.parent / "none.json").write_text(
                '{"websites": [{"URL": "http://127.0.0.1:9/"}]}')
        done = run_app([*args, "-db", str(v4_db)], v4_db.parent)
        assert (done.returncode, done.stderr) == (0, ""), args
        if args[0] == "-r":
            assert "past 10m00s" in done.stdout and "past 1h00m00s" in done.stdout
        if args[0] == "-a":
            assert f"alert of {B}" in done.stdout
    raw = sqlite3.connect(v4_db)
    assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    raw.close()


# SQLite only: a migration of its files' schema.
def test_a_migration_another_process_made_meanwhile_is_not_made_twice(v4_db: Path) -> None:
    # A reader and a starting monitor may both find schema 4: the second to take the write
    # lock must not take the steps again ("duplicate column").
    from monitor.store.sqlite.migrations import migrate

    late = sqlite3.connect(v4_db, isolation_level=None)
    version = late.execute("PRAGMA user_version").fetchone()[0]
    assert version == 4
    Store(v4_db).close()  # the other process, first
    migrate(late, version)
    assert late.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    late.close()
    reader = open_reader(v4_db)
    try:
        assert reader.open_alerts() == {B: store_v4.iso_utc(BASE + 1650)}
    finally:
        reader.close()
