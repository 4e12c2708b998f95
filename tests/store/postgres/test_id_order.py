"""Several writers on one PostgreSQL database (two `-m`, or an agent's batches and the
monitor's checks): rows that readers follow by id (the event stream, pushes) commit in the
order their ids are drawn, because each writer's transaction that inserts them waits for the
advisory lock another writer holds until its commit."""

from __future__ import annotations

import threading
import time

import psycopg

from monitor.core.model import CheckResult
from monitor.store.api import MonitorRow
from monitor.store.postgres.batch import _ID_ORDER_LOCK
from monitor.store.postgres.writer import Store


def _waiting_for_the_lock(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            " AND objid = %s", (_ID_ORDER_LOCK & 0xFFFFFFFF,)).fetchone()
    return bool(row and row[0])


def test_a_writer_inserting_checks_waits_for_the_other_writer_s_commit(postgres_url):
    store = Store(postgres_url)
    store.set_monitors([MonitorRow("a", "http", "https://a.example/")])
    store.start()
    other = psycopg.connect(postgres_url)  # another writer, mid-transaction
    try:
        other.execute("SELECT pg_advisory_xact_lock(%s)", (_ID_ORDER_LOCK,))
        store.put_checks([CheckResult("a", time.time(), True, 200, 5.0)])
        flushed = threading.Event()
        threading.Thread(target=lambda: (store.flush(60), flushed.set()), daemon=True).start()
        deadline = time.monotonic() + 30
        while not _waiting_for_the_lock(postgres_url):
            assert time.monotonic() < deadline, "the writer never asked for the lock"
            time.sleep(0.05)
        assert not flushed.is_set()
        other.commit()  # the other writer's ids are visible: now ours may commit
        assert flushed.wait(30)
    finally:
        other.close()
        store.close()
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM website_monitoring").fetchone() == (1,)
