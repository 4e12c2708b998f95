"""The outbox: an alert's notifications written in the same transaction as the alert row,
read back by provider when due, and their attempts recorded (sent, retried, failed). On
both stores (the `backend` fixture)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from monitor.store.api import AlertRecord, Delivery, DeliveryDone, DeliveryState
from monitor.store.sqlite.writer import Store
from tests.store.conftest import Backend, reading

SITE = "https://a.example/"


def alert(kind: str = "alert", *deliveries: Delivery) -> AlertRecord:
    return AlertRecord(timestamp="2026-11-30T10:00:00.000Z", monitor_id=SITE, type=kind,
                       start="2026-11-30T10:00:00.000Z", end=None, availability=0.5,
                       message=f"Website {SITE} is down.", deliveries=deliveries)


def test_deliveries_go_with_their_alert_and_are_read_by_provider(backend: Backend) -> None:
    store = backend.make()
    try:
        store.put_alert(alert("alert", Delivery("ops", "alert", "ALERT", "down"),
                              Delivery("pager", "alert", "ALERT", "down")))
        store.put_alert(alert("recovery", Delivery("ops", "recovery", "OK", "up")))
        store.put_alert(alert("alert"))  # no provider wants it: no outbox row
        store.flush()
        assert backend.read("SELECT alert, key, provider, event, title, attempts FROM outbox"
                            " ORDER BY id") == [
            (1, "1:ops", "ops", "alert", "ALERT", 0), (1, "1:pager", "pager", "alert", "ALERT", 0),
            (2, "2:ops", "ops", "recovery", "OK", 0)]
        reader = backend.reader()
        try:
            ops = reader.pending_deliveries("ops", now=1e12)
            assert [(r.key, r.alert, r.event, r.title, r.body, r.attempts) for r in ops] == [
                ("1:ops", 1, "alert", "ALERT", "down", 0),
                ("2:ops", 2, "recovery", "OK", "up", 0)]
            pager = reader.pending_deliveries("pager", now=1e12)
            assert [r.key for r in pager] == ["1:pager"]
            # One sent, one to retry later, one failed for good.
            store.put_delivery(DeliveryDone(ops[0].id, at=100.0))
            store.put_delivery(DeliveryDone(ops[1].id, at=100.0, error="HTTP 500",
                                            retry_at=160.0))
            store.put_delivery(DeliveryDone(pager[0].id, at=100.0, error="timed out"))
            store.flush()
            assert reader.pending_deliveries("ops", now=159.0) == []
            assert [r.key for r in reader.pending_deliveries("ops", now=160.0)] == ["2:ops"]
            assert reader.pending_deliveries("pager", now=1e12) == []
            assert reader.deliveries([1, 2, 3]) == {
                1: [DeliveryState("ops", "sent", 1, None),
                    DeliveryState("pager", "failed", 1, "timed out")],
                2: [DeliveryState("ops", "pending", 1, "HTTP 500")]}
            # A late outcome of a row already sent changes nothing (a duplicate attempt).
            store.put_delivery(DeliveryDone(ops[0].id, at=200.0, error="late"))
            store.flush()
            assert reader.deliveries([1])[1][0] == DeliveryState("ops", "sent", 1, None)
        finally:
            reader.close()
    finally:
        store.close()
    # The outcomes' columns as recorded: the first outcome of each row, its time kept.
    assert backend.read("SELECT key, attempts, sent, failed, retry_at, error FROM outbox"
                        " ORDER BY id") == [
        ("1:ops", 1, 100.0, None, None, None), ("1:pager", 1, None, 100.0, None, "timed out"),
        ("2:ops", 1, None, None, 160.0, "HTTP 500")]


REFUSE = {
    "sqlite": "CREATE TRIGGER refuse BEFORE INSERT ON outbox WHEN NEW.provider = 'bad'"
              " BEGIN SELECT RAISE(ABORT, 'refused'); END",
    "postgresql": "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                  " RAISE EXCEPTION 'refused'; END $$; CREATE TRIGGER refuse BEFORE INSERT"
                  " ON outbox FOR EACH ROW WHEN (NEW.provider = 'bad') EXECUTE FUNCTION"
                  " refuse()"}


def test_an_alert_never_lands_without_its_deliveries(backend: Backend) -> None:
    """The outbox rows share the alert's transaction: a refused row takes the alert too."""
    store = backend.make()
    store.close()
    # A trigger that refuses outbox rows for one provider stands in for any failure.
    backend.execute(REFUSE[backend.name])
    errors: list[str] = []
    store = backend.make(on_error=errors.append)
    try:
        store.put_alert(alert("alert", Delivery("bad", "alert", "t", "b")))
        store.put_alert(alert("alert", Delivery("ok", "alert", "t", "b")))
        store.flush()
    finally:
        store.close()
    assert backend.read("SELECT count(*) FROM website_alerts") == [(1,)]
    # Every message due, whichever alert it is of: none of the refused alert is left.
    with reading(backend.where) as reader:
        assert [r.provider for provider in ("bad", "ok")
                for r in reader.pending_deliveries(provider, now=1e12)] == ["ok"]
    assert any("could not write an alert of" in e for e in errors), errors


def test_alerts_list_shows_where_each_notification_stands(backend: Backend) -> None:
    from monitor.cli.modes import follow_alerts

    store = backend.make()
    try:
        store.put_alert(alert("alert", Delivery("ops", "alert", "t", "b"),
                              Delivery("pager", "alert", "t", "b"),
                              Delivery("sms", "alert", "t", "b")))
        store.put_alert(alert("recovery"))
        store.flush()
        reader = backend.reader()
        try:
            ops, = reader.pending_deliveries("ops", now=1e12)
            sms, = reader.pending_deliveries("sms", now=1e12)
        finally:
            reader.close()
        store.put_delivery(DeliveryDone(ops.id, at=1.0))
        store.put_delivery(DeliveryDone(sms.id, at=1.0, error="HTTP 500", retry_at=2.0))
        store.flush()
    finally:
        store.close()
    lines: list[str] = []
    follow_alerts(backend.where, lines.append, follow=False)
    assert lines == [f"Website {SITE} is down.",
                     "  sent to ops; pending: pager, sms (1 attempt, last: HTTP 500)",
                     f"Website {SITE} is down."]


def test_the_key_fills_its_field_and_nothing_else(backend: Backend) -> None:
    from monitor.store.api import KEY_FIELD

    store = backend.make()
    try:
        store.put_alert(alert("alert", Delivery("ops", "alert", f"#{KEY_FIELD}",
                                                f"literal {{key}}, key {KEY_FIELD}")))
        store.flush()
    finally:
        store.close()
    with reading(backend.where) as reader:
        assert [(r.title, r.body) for r in reader.pending_deliveries("ops", now=1e12)] == [
            ("#1:ops", "literal {key}, key 1:ops")]


def test_a_purge_takes_the_messages_of_the_alerts_it_deletes(backend: Backend) -> None:
    store = backend.make()
    try:
        old = AlertRecord(timestamp="2000-01-01T00:00:00.000Z", monitor_id=SITE, type="alert",
                          start="2000-01-01T00:00:00.000Z", end=None, availability=0.5,
                          message="old", deliveries=(Delivery("ops", "alert", "t", "b"),))
        store.put_alert(old)
        store.put_alert(alert("recovery", Delivery("ops", "recovery", "t", "b")))
        store.flush()
        store.purge(before=1e9)  # 2001: the first alert goes, the monitor's latest stays
        store.flush()
    finally:
        store.close()
    with reading(backend.where) as reader:  # every message due, whichever alert it is of
        assert [r.key for r in reader.pending_deliveries("ops", now=1e12)] == ["2:ops"]


# SQLite only: its full disk's error stands in for the refusal.
def test_a_senders_flush_does_not_retry_a_full_disk_each_time(tmp_path: Path) -> None:
    """A refused write is retried once a second; a sender's per-message flush (not urgent)
    must not make the writer rewrite everything it holds for every message sent."""
    store = Store(tmp_path / "m.db").start()
    attempts = []
    original = store._batch.write

    def full(commands):  # type: ignore[no-untyped-def]
        attempts.append(len(commands))
        error = sqlite3.OperationalError("database or disk is full")
        error.sqlite_errorcode = sqlite3.SQLITE_FULL  # type: ignore[attr-defined]
        raise error

    store._batch.write = full  # type: ignore[method-assign]
    try:
        store.put_alert(alert("alert"))
        assert store.flush(2.0) is False  # held: the disk refused it
        tried = len(attempts)
        for _ in range(20):  # twenty messages "sent" within the retry delay
            assert store.flush(2.0, urgent=False) is False
        assert len(attempts) - tried <= 1  # at most the one retry its schedule allows
        store.flush(2.0)  # an urgent flush (a stop) does try again
        assert len(attempts) > tried
    finally:
        store._batch.write = original  # type: ignore[method-assign]
        store.close()


def test_a_row_waiting_for_its_retry_holds_back_the_later_rows_of_its_provider(
        backend: Backend) -> None:
    """Per provider, the due rows stop at the first one that waits for its retry: a later
    row (a recovery) is never due before an earlier one (its alert), whoever reads."""
    store = backend.make()
    try:
        store.put_alert(alert("alert", Delivery("ops", "alert", "t", "b"),
                              Delivery("pager", "alert", "t", "b")))
        store.put_alert(alert("recovery", Delivery("ops", "recovery", "t", "b"),
                              Delivery("pager", "recovery", "t", "b")))
        store.flush()
        reader = backend.reader()
        try:
            first, _ = reader.pending_deliveries("ops", now=100.0)
            store.put_delivery(DeliveryDone(first.id, at=100.0, error="HTTP 500",
                                            retry_at=105.0))
            store.flush()
            assert reader.pending_deliveries("ops", now=104.9) == []
            assert [r.key for r in reader.pending_deliveries("ops", now=105.0)] == [
                "1:ops", "2:ops"]
            assert reader.pending_deliveries("ops", now=105.0)[0].error == "HTTP 500"
            # Another provider's rows are not held back.
            assert [r.key for r in reader.pending_deliveries("pager", now=104.9)] == [
                "1:pager", "2:pager"]
        finally:
            reader.close()
    finally:
        store.close()
