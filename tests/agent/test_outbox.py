"""The agent's database read as its outbox (monitor/store/sqlite/outbox_rows.py)."""

from __future__ import annotations

from pathlib import Path

from monitor.store.sqlite.outbox_rows import OutboxReader, instance
from monitor.store.sqlite.writer import Store
from tests.agent.conftest import fill


def test_the_checks_after_upto_in_id_order_and_how_many_wait(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    fill(db, 12)
    reader = OutboxReader(db)
    try:
        assert [row.id for row in reader.checks_after_id(4, 5)] == [5, 6, 7, 8, 9]
        assert reader.count_after_id(4) == 8
        assert reader.newest_id() == 12
        row = reader.checks_after_id(0, 1)[0]
        assert (row.monitor_id, row.available, row.code, row.reason, row.lateness_ms,
                row.metrics) == ("m1", False, None, "connect", 1.5, '{"connect":1.0}')
    finally:
        reader.close()


def test_a_purge_keeps_every_check_not_acknowledged_and_the_newest_row(tmp_path: Path) -> None:
    db = tmp_path / "agent.db"
    fill(db, 10, start=1000.0)  # timestamps 1000 ... 1009
    reader = OutboxReader(db)
    try:
        assert reader.purge_before(upto=5, wanted=2000.0) == 1005.0  # row 6 and after stay
        assert reader.purge_before(upto=10, wanted=2000.0) == 1009.0  # the newest stays
        assert reader.purge_before(upto=10, wanted=1003.0) == 1003.0
        store = Store(db).start()
        store.purge(reader.purge_before(upto=10, wanted=2000.0) or 0)
        store.close()
        assert [row.id for row in reader.checks_after_id(0, 100)] == [10]
        fill(db, 1, start=3000.0)
        assert reader.newest_id() == 11  # not 1 again: the server would take it for a copy
    finally:
        reader.close()


def test_the_instance_is_made_once_per_database(tmp_path: Path) -> None:
    fill(tmp_path / "a.db", 1)
    fill(tmp_path / "b.db", 1)
    first = instance(tmp_path / "a.db")
    assert instance(tmp_path / "a.db") == first
    assert instance(tmp_path / "b.db") != first
    assert len(first) == 36
