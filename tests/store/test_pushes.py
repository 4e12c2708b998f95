"""Pushes to push monitors through the real writer of both stores (the `backend` fixture),
and read back:
after an id (all monitors, or one), each monitor's latest run end and start, purged with
the raw checks but for what a restart needs."""

from __future__ import annotations

from monitor.core.push import MAX_MESSAGE, Latest, Push
from monitor.store.api import RecordPush
from tests.store.conftest import as_backend, reading

T = 1_700_000_000.0


def write_pushes(db, *pushes: RecordPush) -> None:
    """Pushes as the web server writes them: through a writer of its own."""
    store = as_backend(db).make().start()
    try:
        for push in pushes:
            store.put_push(push)
        assert store.flush()
    finally:
        store.close()


def test_pushes_are_written_in_order_and_read_after_an_id(backend):
    db = backend
    write_pushes(db, RecordPush("a", T, "start"),
           RecordPush("b", T + 1, "ping", "up", "backup ok", 12.5),
           RecordPush("a", T + 2, "ping"),
           RecordPush("a", T + 3, "fail", None, "disk full"))
    with reading(db) as reader:
        every = reader.pushes_after(0)
        assert [(p.monitor_id, p.event) for p in every] == [
            ("a", "start"), ("b", "ping"), ("a", "ping"), ("a", "fail")]
        assert every[1] == Push("b", T + 1, "ping", "up", "backup ok", 12.5, every[1].id)
        assert [p.id for p in every] == sorted(p.id for p in every)
        assert [p.event for p in reader.pushes_after(every[0].id, "a")] == ["ping", "fail"]
        assert reader.pushes_after(every[-1].id) == []
        assert len(reader.pushes_after(0, limit=2)) == 2
        assert reader.last_push_id() == every[-1].id
        latest = reader.latest_pushes(["a", "b", "c"])
        assert latest == {"a": Latest(every[3], every[0]), "b": Latest(every[1], None)}
        # As they were up to an id: what a watch opened at that point is told.
        assert reader.latest_pushes(["a"], upto=every[2].id) == {
            "a": Latest(every[2], every[0])}


def test_a_message_is_bounded(backend):
    db = backend
    write_pushes(db, RecordPush("a", T, "ping", message="x" * 5000))
    with reading(db) as reader:
        assert reader.pushes_after(0)[0].message == "x" * MAX_MESSAGE


def test_purge_keeps_each_monitors_latest_start_and_end(backend):
    db = backend
    old = [RecordPush("a", T + i, "ping") for i in range(5)]
    old += [RecordPush("a", T + 5, "start"), RecordPush("weekly", T + 6, "ping")]
    write_pushes(db, *old, RecordPush("a", T + 100, "ping"))
    store = as_backend(db).make().start()
    try:
        store.purge(T + 50)
        assert store.flush()
    finally:
        store.close()
    with reading(db) as reader:
        kept = [(p.monitor_id, p.timestamp, p.event) for p in reader.pushes_after(0)]
    # a's old pings go but its latest old one (a newer one exists: harmless), its start,
    # and the weekly job's only ping stay: a restart judges them by these.
    assert kept == [("a", T + 4, "ping"), ("a", T + 5, "start"), ("weekly", T + 6, "ping"),
                    ("a", T + 100, "ping")]


def test_a_purge_of_nothing_old_keeps_everything(backend):
    db = backend
    write_pushes(db, RecordPush("a", T, "ping"), RecordPush("a", T + 1, "ping"))
    store = as_backend(db).make().start()
    try:
        store.purge(T - 10)
        assert store.flush()
    finally:
        store.close()
    with reading(db) as reader:
        assert len(reader.pushes_after(0)) == 2
