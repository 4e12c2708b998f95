"""Several monitors on one PostgreSQL database: the per-monitor leases (advisory locks of a
session each) stepped on an injected clock, and the aggregates of a minute two writers
both added to (a takeover half-way through a minute), on a real server."""

from __future__ import annotations

import time

import psycopg

from monitor.core.model import CheckResult
from monitor.store.codec import MinuteAgg
from monitor.store.open import open_reader, open_store, shown
from monitor.store.postgres.leases import LEASE_EVERY, Leases, lease_key

IDS = [f"https://m{i}.example/" for i in range(20)]
BASE = 1_700_000_040.0  # a whole minute


def leases(url: str) -> Leases:
    return Leases(url, clock=lambda: 0.0)


def session(lease: Leases) -> int:
    """The server's process of the leases' session."""
    assert lease._conn is not None
    return int(lease._conn.info.backend_pid)


def ended(url: str, pid: int) -> None:
    """Wait until the server has ended the session `pid`, its locks with it: a client's
    close and pg_terminate_backend return before that, and another process's next step
    comes seconds later in the program, milliseconds later here."""
    deadline = time.monotonic() + 10
    with psycopg.connect(url, autocommit=True) as conn:
        while conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s",
                           (pid,)).fetchone() != (0,):
            assert time.monotonic() < deadline, f"the server's process {pid} still there"
            time.sleep(0.005)


def test_one_process_takes_every_lease_and_the_database_lease(postgres_url: str) -> None:
    a = leases(postgres_url)
    held = a.step(IDS, now=0.0)
    assert held is not None and held.monitors == frozenset(IDS) and held.main
    assert a.step(IDS, now=LEASE_EVERY / 2) is None  # not due yet
    assert a.step(IDS, now=LEASE_EVERY) is None  # due, nothing changed
    a.close()


def test_two_processes_split_the_monitors_and_never_hold_one_together(
        postgres_url: str) -> None:
    a, b = leases(postgres_url), leases(postgres_url)
    a.step(IDS, now=0.0)
    held_b = b.step(IDS, now=0.0)  # all held by a: nothing free yet
    assert held_b is None or not held_b.monitors
    now = LEASE_EVERY
    a.step(IDS, now=now)  # two processes now: a stops checking half
    assert len(a.held.monitors) == 10
    assert not a.held.monitors & b.held.monitors
    b.step(IDS, now=now)  # a has not given them back yet: still nothing
    assert not a.held.monitors & b.held.monitors
    now += LEASE_EVERY
    a.step(IDS, now=now)  # given back
    b.step(IDS, now=now)
    assert len(b.held.monitors) == 10 and not b.held.main
    assert a.held.monitors | b.held.monitors == frozenset(IDS)
    assert not a.held.monitors & b.held.monitors
    # a stops (its session ends): b takes over everything at its next step.
    pid = session(a)
    a.close()
    ended(postgres_url, pid)
    b.step(IDS, now=now + LEASE_EVERY / 2)
    assert len(b.held.monitors) == 10  # not due yet
    held = b.step(IDS, now=now + LEASE_EVERY)
    assert held is not None and held.monitors == frozenset(IDS) and held.main
    b.close()


def test_a_session_killed_by_the_server_gives_its_leases_over(postgres_url: str) -> None:
    """A process killed (kill -9) is a session the server ends: its locks go with it."""
    a, b = leases(postgres_url), leases(postgres_url)
    a.step(IDS, now=0.0)
    b.step(IDS, now=0.0)
    pid = session(a)
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                      " WHERE application_name = 'uptime-monitor leases'"
                      " AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory'"
                      " AND classid = %s::int8::oid AND objid = %s::int8::oid)",
                      (0x6D61696E, 0))
    ended(postgres_url, pid)
    said: list[str] = []
    a._on_error = said.append  # (to see it said once)
    lost = a.step(IDS, now=LEASE_EVERY)
    assert lost is not None and not lost.monitors and not lost.main  # stop checking
    assert said and "checking nothing" in said[0] and "leases" in said[0]
    held = b.step(IDS, now=LEASE_EVERY)
    assert held is not None and held.monitors == frozenset(IDS) and held.main
    b.close()
    a.close()


def test_a_lost_server_means_no_lease(postgres_url: str) -> None:
    down = Leases("postgresql://nobody:pw-secret@127.0.0.1:1/none", clock=lambda: 0.0)
    said: list[str] = []
    down._on_error = said.append
    held = down.step(IDS, now=0.0)
    assert held is None or not held.monitors  # nothing held: nothing checked
    assert not down.held.monitors
    assert said and "pw-secret" not in said[0] and "***" in said[0]


def test_the_lease_key_is_stable_and_32_bits() -> None:
    assert lease_key("https://a.example/") == lease_key("https://a.example/")
    assert all(-(1 << 31) <= lease_key(i) < 1 << 31 for i in IDS)
    assert len({lease_key(i) for i in IDS}) == len(IDS)


def check(monitor_id: str, ts: float, ms: float, up: bool = True) -> CheckResult:
    return CheckResult(monitor_id, ts, up, 200 if up else 500, ms,
                       None if up else "http_status", "", 0.0, 0.0)


def test_a_takeover_mid_minute_adds_to_the_minute_not_overwrites_it(
        postgres_url: str) -> None:
    """The old owner wrote part of a minute; the new one, started later, writes the
    rest: the minute and 10-minute rows count every check once (as the raw rows do),
    whichever writer cached what."""
    old = open_store(postgres_url, clock=lambda: BASE + 30).start()
    first = [check(IDS[0], BASE + s, 10.0 + s, s != 3) for s in range(5)]
    old.put_checks(first)
    assert old.flush()
    new = open_store(postgres_url, clock=lambda: BASE + 30).start()
    second = [check(IDS[0], BASE + 10 + s, 50.0 + s) for s in range(7)]
    new.put_checks(second)
    assert new.flush()
    # The old owner still had the minute cached: a last late write of its own.
    old.put_checks([check(IDS[0], BASE + 8, 99.0, False)])
    assert old.flush()
    old.close()
    new.close()
    expected = MinuteAgg()
    for c in [*first, *second, check(IDS[0], BASE + 8, 99.0, False)]:
        expected.add(c.response_ms, c.available, c.code, c.reason)
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute("SELECT span, checks, up, rt_count, rt_sum, rt_min, rt_max, hist,"
                            " outcomes FROM aggregates WHERE monitor = %s ORDER BY span",
                            (IDS[0],)).fetchall()
        raw = conn.execute("SELECT count(*) FROM website_monitoring").fetchone()
    assert raw == (13,)
    assert [span for span, *_ in rows] == [60, 600]
    for _span, *row in rows:
        assert MinuteAgg.from_row(row) == expected
    reader = open_reader(postgres_url)
    try:
        assert reader.monitor_states()  # the state row is there for the live views
    finally:
        reader.close()


def test_a_password_is_masked_where_the_database_is_shown() -> None:
    assert shown("postgresql://u:hunter22@db.example/x") == "postgresql://u:***@db.example/x"
    assert shown("postgresql://u@db.example/x") == "postgresql://u@db.example/x"
    assert shown("monitoring.db") == "monitoring.db"
