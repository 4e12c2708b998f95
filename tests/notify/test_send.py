"""Delivering the outbox, for real: through apprise URLs to receivers on loopback (a webhook
receiver for json:// and form://, an SMTP server for mailto://). The schedule (backoff,
give-up) runs on an injected clock, one pass at a time; isolation and throughput are
measured with the senders' threads."""

from __future__ import annotations

import json
import os
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

from monitor.cli.notify import run_test
from monitor.config import parse_config
from monitor.core import secrets
from monitor.core.errors import ConfigError
from monitor.notify.send import (
    MAX_ERROR,
    UnknownProvider,
    clean,
    delivery_url,
    notify_test,
    reason,
    send,
)
from monitor.notify.sender import Notifier, Sender, backoff
from monitor.store.api import AlertRecord, Delivery, DeliveryState
from monitor.store.sqlite.queries import open_reader
from monitor.store.sqlite.writer import Store
from tests.support.app import run_app
from tests.support.db import query
from tests.support.receivers import SmtpReceiver, WebhookReceiver

SITE = "https://a.example/"
HTTP_500 = "HTTP 500"
SITE_ENTRY = {"URL": "http://127.0.0.1:9/"}  # never checked: `notify test` sends only


@dataclass(frozen=True)
class Provider:
    """As monitor.config.notify.Provider: what a sender is given."""

    name: str
    url: str
    shown: str = ""
    title: str | None = None
    body: str | None = None
    secrets: tuple[str, ...] = ()


def provider(name: str, url: str, *secret_values: str) -> Provider:
    return Provider(name, url, shown=f"{url.partition('://')[0]}://{secrets.MASK}",
                    secrets=secrets.secret_set(secrets.encoded_forms(secret_values)))


class Clock:
    """The schedule's epoch time, moved by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def outbox(tmp_path: Path) -> Iterator[Store]:
    store = Store(tmp_path / "m.db").start()
    yield store
    store.close()


def put_alerts(store: Store, providers: Sequence[str], count: int = 1,
               event: str = "alert") -> None:
    for i in range(count):
        store.put_alert(AlertRecord(
            timestamp="2026-11-30T10:00:00.000Z", monitor_id=SITE, type="alert",
            start="2026-11-30T10:00:00.000Z", end=None, availability=0.5,
            message=f"Website {SITE} is down.",
            deliveries=tuple(Delivery(p, event, f"ALERT {i}", f"{SITE} is down ({i})")
                             for p in providers)))
    assert store.flush()


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def states(db: Path, alert: int = 1) -> list[DeliveryState]:
    reader = open_reader(db)
    try:
        return reader.deliveries([alert]).get(alert, [])
    finally:
        reader.close()


def stored_errors(db: Path) -> list[str]:
    # Every error the file holds, whatever alert its row is of: no secret may be in any.
    return [row[0] for row in query(db, "SELECT error FROM outbox WHERE error IS NOT NULL")]


# --- one send ----------------------------------------------------------------------------

def test_the_url_gets_the_key_for_webhooks_and_timeouts_unless_given() -> None:
    assert delivery_url("json://h:1/hook", "12:ops", 10) == (
        "json://h:1/hook?:key=12%3Aops&cto=10&rto=10")
    assert delivery_url("forms://h/p?method=PUT", "3:x", 2.5) == (
        "forms://h/p?method=PUT&:key=3%3Ax&cto=2.5&rto=2.5")
    # Other schemes have no payload fields: the key is not sent; the URL's own values stay.
    assert delivery_url("mailto://h?to=a@b.c&CTO=3", "3:x", 10) == (
        "mailto://h?to=a@b.c&CTO=3&rto=10")
    assert delivery_url("json://h/?:key=mine&rto=1&cto=1", "3:x", 10) == (
        "json://h/?:key=mine&rto=1&cto=1")
    assert delivery_url("slack://T/B/C/#ops", None, 10) == "slack://T/B/C/#ops?cto=10&rto=10"


def test_a_json_webhook_gets_title_body_type_and_the_key() -> None:
    with WebhookReceiver() as hook:
        assert send(provider("ops", hook.url()), "ALERT", "a.example is down", "7:ops",
                    event="alert") is None
        assert send(provider("ops", hook.url()), "OK", "a.example is up", "8:ops",
                    event="recovery") is None
        first, second = hook.wait_for(2)
    assert first.path == "/hook" and first.headers["Content-Type"] == "application/json"
    assert {k: first.body[k] for k in ("title", "message", "type", "key")} == {
        "title": "ALERT", "message": "a.example is down", "type": "failure", "key": "7:ops"}
    assert (second.body["type"], second.body["key"]) == ("success", "8:ops")


def test_a_form_webhook_gets_the_key_as_a_field() -> None:
    with WebhookReceiver() as hook:
        assert send(provider("ops", hook.url("form")), "ALERT", "down", "9:ops") is None
        (request,) = hook.wait_for(1)
    assert request.headers["Content-Type"].startswith("application/x-www-form-urlencoded")
    assert {k: request.body[k] for k in ("title", "message", "key")} == {
        "title": "ALERT", "message": "down", "key": "9:ops"}


def test_mailto_reaches_a_plain_smtp_server() -> None:
    with SmtpReceiver() as smtp:
        url = smtp.url(sender="monitor@example.com", to="ops@example.com")
        assert send(provider("mail", url), "ALERT a.example", "a.example is down",
                    "1:mail") is None
        (mail,) = smtp.wait_for(1)
    assert (mail.sender, mail.recipients) == ("monitor@example.com", ("ops@example.com",))
    assert mail.subject == "ALERT a.example"
    assert mail.text.strip() == "a.example is down"


def test_a_failure_says_why_in_one_line() -> None:
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))  # bound, never listening: connection refused
    port = refused.getsockname()[1]
    try:
        with WebhookReceiver("fail", failures=1) as bad, WebhookReceiver("hang") as stuck:
            assert send(provider("a", bad.url()), "t", "b", "1:a") == HTTP_500
            assert send(provider("a", f"json://127.0.0.1:{port}/"), "t", "b") == (
                "connection refused")
            started = time.monotonic()
            assert send(provider("a", stuck.url()), "t", "b", timeout=0.3) == (
                "no answer within 0.3 s")
            # Bounded by the read timeout, not by the receiver.
            assert time.monotonic() - started < 2.0
            assert send(provider("a", "nosuchscheme://x"), "t", "b") == (
                "not a URL apprise can send to")
    finally:
        refused.close()


def test_reasons_from_apprise_logs() -> None:
    assert reason([("WARNING", "A Connection error occurred sending JSON notification."),
                   ("DEBUG", "Socket Exception: HTTPConnectionPool(...): Read timed out."
                             " (read timeout=1.0)")]) == "no answer within 1 s"
    assert reason([("WARNING", "Failed to send Form POST notification: Bad gateway.,"
                               " error=502.")]) == "HTTP 502"
    assert reason([("WARNING", "Connection error while submitting email"),
                   ("DEBUG", "Socket Exception: [Errno 111] Connection refused")]) == (
        "connection refused")
    assert reason([("ERROR", "Service 'JSON' did not finish within 1.600s.")]) == (
        "Service 'JSON' did not finish within 1.600s.")
    assert reason([]) == "not sent (apprise gave no reason)"
    long = clean("x\r\n\ty " + "z" * 500, ())
    assert long.startswith("x y zz") and len(long) == MAX_ERROR and long.endswith("...")


def test_secrets_in_the_url_never_reach_an_error() -> None:
    token = "S3cretTok42"
    with SmtpReceiver(reject=True) as smtp, WebhookReceiver("fail", failures=99) as hook:
        # A refusing mail server quotes the address, here a secret of the URL.
        mail = provider("mail", f"mailto://127.0.0.1:{smtp.port}?mode=insecure"
                                f"&from=m@example.com&to=ops-{token}@example.com", token)
        error = send(mail, "t", "b")
        assert error is not None and "550" in error and secrets.MASK in error
        assert token not in error
        # The provider's own list aside, the URL's password and secret query values are
        # masked too.
        hook_url = hook.url(auth=f"user:{token}", query=f"token={token}x")
        error = send(Provider("ops", hook_url), "t", "b")
        assert error == HTTP_500


# --- the sender's schedule, on an injected clock -----------------------------------------

def test_a_provider_that_answers_500_twice_gets_it_on_the_third_attempt(outbox: Store,
                                                                        ) -> None:
    with WebhookReceiver("fail", failures=2) as hook:
        put_alerts(outbox, ["ops"])
        clock = Clock(time.time())
        t0 = clock.now
        sender = Sender(provider("ops", hook.url()), outbox, outbox.path, clock=clock)
        try:
            assert sender.step() == 1  # attempt 1: 500, again in 5 s
            assert outbox.flush()
            assert states(outbox.path) == [DeliveryState("ops", "pending", 1, HTTP_500)]
            for due, expected in ((t0 + 5, "pending"), (t0 + 15, "sent")):
                clock.now = due - 0.01
                assert sender.step() == 0  # not due yet
                clock.now = due
                assert sender.step() == 1  # attempt 2 at +5 s (500, again in 10 s), 3 at +15 s
                assert outbox.flush()
                assert states(outbox.path)[0].state == expected
            assert states(outbox.path) == [DeliveryState("ops", "sent", 3, None)]
            clock.now = t0 + 3600
            assert sender.step() == 0
        finally:
            sender.stop()
    # Each attempt carried the same key: a receiver can tell the retries.
    assert [(r.status, r.body["key"]) for r in hook.requests] == [
        (500, "1:ops"), (500, "1:ops"), (200, "1:ops")]


def test_backoff_doubles_from_5_s_up_to_5_minutes() -> None:
    assert [backoff(n) for n in range(1, 10)] == [5, 10, 20, 40, 80, 160, 300, 300, 300]


def test_a_notification_is_given_up_after_retry_for_with_one_warning(outbox: Store) -> None:
    warnings: list[str] = []
    with WebhookReceiver("fail", failures=10**6) as hook:
        put_alerts(outbox, ["ops"])
        clock = Clock(time.time())
        t0 = clock.now
        sender = Sender(provider("ops", hook.url()), outbox, outbox.path, retry_for=60,
                        on_error=warnings.append, clock=clock)
        reader = open_reader(outbox.path)
        try:
            (row,) = reader.pending_deliveries("ops", t0)
            deadline = row.created + 60
            assert sender.step() == 1
            assert outbox.flush()
            # 5, 10, 20 s apart, then the last try is moved to 5 s before the deadline
            # (not +40 s): a try is never made at or after the deadline.
            for due in (t0 + 5, t0 + 15, t0 + 35, deadline - 5):
                clock.now = due - 0.01
                assert sender.step() == 0
                clock.now = due
                assert sender.step() == 1
                assert outbox.flush()
            assert states(outbox.path) == [DeliveryState("ops", "failed", 5, HTTP_500)]
            assert warnings == [f"notification to ops failed for good after 5 attempts:"
                                f" {HTTP_500}"]
            clock.now = deadline + 3600
            assert sender.step() == 0
            assert len(warnings) == 1 and len(hook.requests) == 5
        finally:
            reader.close()
            sender.stop()


EXPIRED_20 = "expired after notifyRetryFor (20 s), not sent; last error: HTTP 500"


def test_a_row_older_than_retry_for_at_a_restart_is_expired_not_sent(outbox: Store) -> None:
    """notifyRetryFor 20 s, the first attempt answered 500, the monitor restarted 30 s
    later with the provider fixed: the row is past its deadline (measured from when it was
    written), so it is given up unsent, and `-a` says so."""
    from monitor.cli.modes import follow_alerts

    warnings: list[str] = []
    with WebhookReceiver("fail", failures=1) as hook:
        put_alerts(outbox, ["ops"])
        clock = Clock(time.time())
        first = Sender(provider("ops", hook.url()), outbox, outbox.path, retry_for=20,
                       clock=clock)
        assert first.step() == 1  # 500: again in 5 s
        assert first.stop()
        assert outbox.flush()
        clock.now += 30  # the restart
        second = Sender(provider("ops", hook.url()), outbox, outbox.path, retry_for=20,
                        on_error=warnings.append, clock=clock)
        try:
            assert second.step() == 1  # given up, without a send
            assert outbox.flush()
            assert second.step() == 0
        finally:
            second.stop()
    assert [r.status for r in hook.requests] == [500]
    # One attempt made: giving up adds none.
    assert states(outbox.path) == [DeliveryState("ops", "failed", 1, EXPIRED_20)]
    assert warnings == ["notification to ops expired after notifyRetryFor (20 s), not sent"
                        " (1 attempt; last error: HTTP 500)"]
    lines: list[str] = []
    follow_alerts(str(outbox.path), lines.append, follow=False)
    assert lines[1] == f"  failed: ops ({EXPIRED_20})"


def test_the_deadline_is_checked_before_each_send(outbox: Store) -> None:
    """A row never tried (the monitor was down from its writing until after its deadline)
    is not sent either; a row within its time still is."""
    warnings: list[str] = []
    with WebhookReceiver() as hook:
        put_alerts(outbox, ["ops"])
        clock = Clock(time.time())
        reader = open_reader(outbox.path)
        try:
            (row,) = reader.pending_deliveries("ops", clock.now)
        finally:
            reader.close()
        sender = Sender(provider("ops", hook.url()), outbox, outbox.path, retry_for=20,
                        on_error=warnings.append, clock=clock)
        try:
            clock.now = row.created + 20
            assert sender.step() == 1
            put_alerts(outbox, ["ops"])  # written now: within its time
            assert sender.step() == 1
            assert outbox.flush()
        finally:
            sender.stop()
    assert [r.body["key"] for r in hook.requests] == ["2:ops"]
    assert states(outbox.path) == [DeliveryState(
        "ops", "failed", 0, "expired after notifyRetryFor (20 s), not sent")]
    assert warnings == ["notification to ops expired after notifyRetryFor (20 s), not sent"
                        " (never tried)"]


def test_an_expired_row_read_again_before_its_outcome_is_written_is_left_alone(
        tmp_path: Path) -> None:
    store = Store(tmp_path / "m.db")  # not started: it writes at flush() only
    warnings: list[str] = []
    try:
        put_alerts(store, ["ops"])
        clock = Clock(time.time() + 60)
        sender = Sender(provider("ops", "json://127.0.0.1:9/"), store, store.path,
                        retry_for=20, on_error=warnings.append, clock=clock)
        assert sender.step() == 1
        assert sender.step() == 0  # still pending in the database: not given up twice
        assert store.flush()
        assert sender.step() == 0
        sender.stop()
    finally:
        store.close()
    assert len(warnings) == 1
    assert states(store.path) == [DeliveryState(
        "ops", "failed", 0, "expired after notifyRetryFor (20 s), not sent")]


def test_after_a_failure_later_rows_wait_in_order_and_expire_together(outbox: Store,
                                                                      ) -> None:
    warnings: list[str] = []
    with WebhookReceiver("fail", failures=10**6) as hook:
        put_alerts(outbox, ["ops"], count=3)
        clock = Clock(time.time())
        t0 = clock.now
        sender = Sender(provider("ops", hook.url()), outbox, outbox.path, retry_for=30,
                        on_error=warnings.append, clock=clock)
        try:
            # The provider failed: the two later rows are not tried behind it (each would
            # wait for the same failure), and are not sent before the first.
            assert sender.step() == 1
            clock.now = t0 + 5
            assert sender.step() == 1
            assert [r.body["key"] for r in hook.requests] == ["1:ops", "1:ops"]
            # Time is up for all three: given up without another try, and one warning.
            clock.now = t0 + 31
            assert sender.step() == 3
            assert outbox.flush()
        finally:
            sender.stop()
    assert [r.body["key"] for r in hook.requests] == ["1:ops"] * 2
    assert [s.state for a in (1, 2, 3) for s in states(outbox.path, a)] == ["failed"] * 3
    assert warnings == [f"3 notifications to ops given up after notifyRetryFor (30 s), not"
                        f" sent; last error: {HTTP_500}"]


def test_after_a_restart_a_later_row_waits_for_the_retry_of_an_earlier_one(outbox: Store,
                                                                            ) -> None:
    """The alert's send failed (again in 5 s) and the recovery waits behind it; the
    monitor restarts (a new sender: no memory of the failure) before the alert's retry is
    due. The recovery must not overtake the alert: the last message a person reads would
    say the site is down."""
    with WebhookReceiver("fail", failures=1) as hook:
        put_alerts(outbox, ["ops"], count=2)
        clock = Clock(time.time())
        t0 = clock.now
        first = Sender(provider("ops", hook.url()), outbox, outbox.path, clock=clock)
        assert first.step() == 1  # the alert: 500, again at +5 s; the recovery waits
        assert first.stop()
        assert outbox.flush()
        clock.now = t0 + 1
        second = Sender(provider("ops", hook.url()), outbox, outbox.path, clock=clock)
        try:
            assert second.step() == 0  # the recovery is not sent before the alert
            clock.now = t0 + 5
            assert second.step() == 2  # both, in order
            assert outbox.flush()
        finally:
            second.stop()
    assert [(r.status, r.body["key"]) for r in hook.requests] == [
        (500, "1:ops"), (200, "1:ops"), (200, "2:ops")]


def test_a_reloaded_provider_keeps_the_order_of_its_rows(outbox: Store) -> None:
    """A provider whose URL changes at a reload gets a new sender: like a restart, it must
    not send a later row before an earlier one that waits for its retry."""
    with WebhookReceiver("fail", failures=1) as old, WebhookReceiver() as new:
        put_alerts(outbox, ["ops"], count=2)
        clock = Clock(time.time())
        notifier = Notifier([provider("ops", old.url())], outbox, outbox.path, clock=clock,
                            poll=0.01).start()
        try:
            notifier.wake()
            old.wait_for(1)  # the first row failed: again in 5 s (on the clock)
            wait_until(lambda: outbox.flush() and states(outbox.path)[0].attempts == 1)
            notifier.configure([provider("ops", new.url())])
            sender = notifier.senders["ops"]
            # A few passes of the new sender, the clock still before the retry.
            wait_until(lambda: sender.passes >= 3)
            assert new.requests == []
            clock.now += 5
            notifier.wake()
            new.wait_for(2)
        finally:
            assert notifier.stop()
    assert [r.body["key"] for r in new.requests] == ["1:ops", "2:ops"]


def test_template_fields_on_the_key_are_formatted_with_the_real_key(outbox: Store) -> None:
    """`{key}` is known once the alert row is written; a conversion or a format spec on it
    applies to the real key, not to a placeholder (a NUL byte, '\\x00key\\x00')."""
    from monitor.alerts import AlertEvent
    from monitor.alerts.messages import alert_message
    from monitor.alerts.routing import deliveries

    at = 1_764_500_000.0
    with WebhookReceiver() as hook:
        config = parse_config(json.dumps({
            "websites": [{"URL": "https://shop.example/", "name": "shop"}],
            "notify": [{"name": "hook", "url": hook.url(), "title": "[{key:.3}] {name}",
                        "body": "{key!r} [{key:>10}] {key} {{key}} {name:>6} {key!a:_^12}"}]}))
        site = config.monitors[0]
        event = AlertEvent("alert", site.id, 0.5, at, at, None,
                           alert_message(site.target, 0.5, at))
        outbox.put_alert(AlertRecord(
            timestamp="2025-11-30T10:53:20.000Z", monitor_id=site.id, type="alert",
            start="2025-11-30T10:53:20.000Z", end=None, availability=0.5,
            message=event.message, deliveries=deliveries(event, site, config.providers)))
        assert outbox.flush()
        sender = Sender(config.providers[0], outbox, outbox.path)
        try:
            assert sender.step() == 1
        finally:
            sender.stop()
        (request,) = hook.requests
    assert request.body["title"] == "[1:h] shop"
    assert request.body["message"] == "'1:hook' [    1:hook] 1:hook {key}   shop __'1:hook'__"
    assert request.body["key"] == "1:hook"


def test_a_row_read_again_before_its_outcome_is_written_is_not_sent_twice(tmp_path: Path,
                                                                         ) -> None:
    store = Store(tmp_path / "m.db")  # not started: it writes at flush() only
    with WebhookReceiver("fail", failures=1) as hook:
        try:
            put_alerts(store, ["ops"])
            clock = Clock(time.time())
            sender = Sender(provider("ops", hook.url()), store, store.path, clock=clock)
            assert sender.step() == 1  # 500: again in 5 s, not yet written
            assert sender.step() == 0  # the row still reads as never tried: left alone
            clock.now += 5
            # Due again while the writer still lags (a full disk): tried, as attempt 2.
            assert sender.step() == 1
            assert sender.step() == 0
            assert store.flush()
            assert states(store.path) == [DeliveryState("ops", "sent", 2, None)]
            assert sender.step() == 0
            sender.stop()
        finally:
            store.close()
    assert [r.status for r in hook.requests] == [500, 200]


def test_an_unreadable_outbox_is_said_once(tmp_path: Path) -> None:
    warnings: list[str] = []
    sender = Sender(provider("ops", "json://127.0.0.1:9/"), Store(tmp_path / "m.db"),
                    tmp_path / "missing.db", on_error=warnings.append)
    assert sender.step() == 0 and sender.step() == 0
    assert len(warnings) == 1 and warnings[0].startswith(
        "notifications to ops: cannot read the outbox:")


# --- the senders' threads -----------------------------------------------------------------

def test_alerts_reach_a_webhook_and_a_mailbox_once_each(outbox: Store) -> None:
    with WebhookReceiver() as hook, SmtpReceiver() as smtp:
        notifier = Notifier([provider("hook", hook.url()), provider("mail", smtp.url())],
                            outbox, outbox.path).start()
        try:
            put_alerts(outbox, ["hook", "mail"])
            notifier.wake()
            (request,) = hook.wait_for(1)
            (mail,) = smtp.wait_for(1)
            wait_until(lambda: outbox.flush() and all(
                s.state == "sent" for s in states(outbox.path)))
        finally:
            assert notifier.stop()
    assert request.body["key"] == "1:hook" and mail.subject == "ALERT 0"
    assert states(outbox.path) == [DeliveryState("hook", "sent", 1, None),
                                   DeliveryState("mail", "sent", 1, None)]
    assert len(hook.requests) == 1 and len(smtp.messages) == 1


def test_hanging_providers_delay_no_other_provider(outbox: Store) -> None:
    # More of them than apprise's shared worker pool has threads (the default of a
    # ThreadPoolExecutor): a send queued on that pool would wait behind them.
    hanging = [f"stuck{i}" for i in range(min(32, (os.cpu_count() or 1) + 4) + 2)]
    with WebhookReceiver("hang") as stuck, WebhookReceiver() as ok:
        notifier = Notifier([*(provider(name, stuck.url()) for name in hanging),
                             provider("ok", ok.url())], outbox, outbox.path,
                            timeout=30).start()
        delays = []
        try:
            for i in range(5):
                put_alerts(outbox, [*hanging, "ok"])
                written = time.monotonic()
                notifier.wake()
                ok.wait_for(i + 1, timeout=5)
                delays.append(time.monotonic() - written)
            stuck.wait_for(len(hanging))  # each of their senders is in its first send
        finally:
            started = time.monotonic()
            stopped = notifier.stop(timeout=0.5)
            stop_took = time.monotonic() - started
        print(f"\nwith {len(hanging)} providers hanging, the other's delay: first"
              f" {delays[0] * 1000:.1f} ms (apprise imported), then at most"
              f" {max(delays[1:]) * 1000:.1f} ms; stop took {stop_took * 1000:.0f} ms")
        assert max(delays) < 0.5, delays
        # Stopping does not wait for the hanging sends; their rows are not marked, so the
        # next start sends them again.
        assert not stopped and stop_took < 1.0
        assert len(stuck.requests) == len(hanging)
        assert states(outbox.path)[0] == DeliveryState("stuck0", "pending", 0, None)


def test_a_send_in_flight_at_stop_is_sent_again_after_the_next_start(outbox: Store,
                                                                     ) -> None:
    with WebhookReceiver("hang") as hook:
        first = Notifier([provider("ops", hook.url())], outbox, outbox.path,
                         timeout=30).start()
        put_alerts(outbox, ["ops"])
        first.wake()
        hook.wait_for(1)
        assert not first.stop(timeout=0.2)
        hook.mode = "ok"  # the provider is back; the first request still hangs
        second = Notifier([provider("ops", hook.url())], outbox, outbox.path).start()
        try:
            hook.wait_for(2)
            wait_until(lambda: outbox.flush() and states(outbox.path)[0].state == "sent")
        finally:
            second.stop()
        # The same key both times: the receiver can drop the duplicate.
        assert [(r.status, r.body["key"]) for r in hook.requests] == [(0, "1:ops"),
                                                                      (200, "1:ops")]


def test_a_burst_of_1000_alerts_to_two_providers_is_delivered_exactly_once(outbox: Store,
                                                                           ) -> None:
    count = 1000
    with WebhookReceiver() as one, WebhookReceiver() as two:
        put_alerts(outbox, ["one", "two"], count=count)
        notifier = Notifier([provider("one", one.url()), provider("two", two.url("form"))],
                            outbox, outbox.path)
        started = time.monotonic()
        notifier.start()
        try:
            one.wait_for(count, timeout=120)
            two.wait_for(count, timeout=120)
            took = time.monotonic() - started
        finally:
            assert notifier.stop(timeout=5)
        assert outbox.flush()
        print(f"\nburst: {2 * count} notifications in {took:.2f} s"
              f" ({2 * count / took:.0f}/s, two providers at once)")
        for hook, name in ((one, "one"), (two, "two")):
            keys = Counter(r.body["key"] for r in hook.requests)
            assert keys == Counter(f"{i}:{name}" for i in range(1, count + 1))
            assert all(r.status == 200 for r in hook.requests)
    reader = open_reader(outbox.path)
    try:
        found = reader.deliveries(list(range(1, count + 1)))
    finally:
        reader.close()
    assert all(found[a] == [DeliveryState("one", "sent", 1, None),
                            DeliveryState("two", "sent", 1, None)]
               for a in range(1, count + 1))
    assert stored_errors(outbox.path) == []


def test_secrets_never_in_stored_errors_nor_warnings(outbox: Store) -> None:
    token = "PathTok-9d2f"
    password = "Pw-77c1e3"
    warnings: list[str] = []
    with WebhookReceiver("fail", failures=10**6) as hook:
        url = hook.url(auth=f"user:{password}", path=f"/hook/{token}")
        ops = provider("ops", url, token, password)
        put_alerts(outbox, ["ops"])
        clock = Clock(time.time())
        sender = Sender(ops, outbox, outbox.path, retry_for=10, on_error=warnings.append,
                        clock=clock)
        try:
            for _ in range(4):
                sender.step()
                clock.now += 10
            assert outbox.flush()
        finally:
            sender.stop()
        results = notify_test([ops])
        assert hook.requests[0].path == f"/hook/{token}"  # it was in the URL, and sent
    texts = [*stored_errors(outbox.path), *warnings, *(e or "" for _, e in results)]
    assert len(warnings) == 1 and results == [("ops", HTTP_500)]
    assert all(t and token not in t and password not in t for t in texts), texts


def test_a_changed_provider_gets_a_new_sender_and_a_removed_one_stops(outbox: Store,
                                                                      ) -> None:
    with WebhookReceiver() as old, WebhookReceiver() as new, WebhookReceiver() as other:
        notifier = Notifier([provider("ops", old.url()), provider("other", other.url())],
                            outbox, outbox.path).start()
        try:
            kept = notifier.senders["other"]
            notifier.configure([provider("ops", new.url()), provider("other", other.url()),
                                provider("more", other.url(path="/more"))])
            assert notifier.senders["other"] is kept
            put_alerts(outbox, ["ops", "other", "more"])
            notifier.wake()
            new.wait_for(1)
            other.wait_for(2)
            removed = notifier.senders["more"]
            notifier.configure([provider("ops", new.url())])
            assert not removed.alive and not kept.alive
            assert list(notifier.senders) == ["ops"]
        finally:
            assert notifier.stop()
    assert old.requests == []
    assert sorted(r.path for r in other.requests) == ["/hook", "/more"]


# --- notify test and its command ------------------------------------------------------------

def test_notify_test_sends_to_all_or_the_named_at_once() -> None:
    with WebhookReceiver() as good, WebhookReceiver("fail", failures=99) as bad, \
            WebhookReceiver("hang") as stuck:
        providers = [provider("good", good.url()), provider("bad", bad.url()),
                     provider("stuck", stuck.url())]
        started = time.monotonic()
        results = notify_test(providers, timeout=1)
        took = time.monotonic() - started
        assert results == [("good", None), ("bad", HTTP_500),
                           ("stuck", "no answer within 1 s")]
        assert took < 2.5  # at once: bounded by the one that hangs, not the sum
        assert notify_test(providers, ["bad"]) == [("bad", HTTP_500)]
        with pytest.raises(UnknownProvider) as raised:
            notify_test(providers, ["nope", "good"])
        assert (raised.value.names, raised.value.known) == (("nope",), ("good", "bad", "stuck"))
        request = good.requests[0]
    host = socket.gethostname()
    assert request.body["title"] == f"Test notification from uptime-monitor on {host}"
    assert request.body["key"].startswith("test:") and request.body["key"].endswith(":good")


def test_the_command_prints_a_line_per_provider_and_exits_by_the_results() -> None:
    with WebhookReceiver() as good, WebhookReceiver("fail", failures=99) as bad:
        providers = [provider("ops", good.url()), provider("pager", bad.url("form"))]
        lines: list[str] = []
        assert run_test(providers, None, lines.append) == 1
        assert lines == ["ops (json://***): sent", f"pager (form://***): failed: {HTTP_500}"]
        lines.clear()
        assert run_test(providers, ["ops"], lines.append) == 0
        assert lines == ["ops (json://***): sent"]
        with pytest.raises(click.UsageError) as raised:
            run_test(providers, ["nope"], lines.append)
        assert raised.value.message == ("no provider 'nope' in config.json: the providers are"
                                        " ops, pager")


def test_the_command_without_providers_says_so(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"websites": [SITE_ENTRY]}))
    done = run_app(["notify", "test"], tmp_path)
    assert done.returncode == 2
    assert done.stderr == ("Error: config.json: no notification providers (add a \"notify\""
                           " list of {\"name\", \"url\"})\n")


def test_the_command_end_to_end(tmp_path: Path) -> None:
    with WebhookReceiver() as good, WebhookReceiver("fail", failures=99) as bad:
        document = {"websites": [SITE_ENTRY], "notify": [{"name": "ops", "url": good.url()},
                                               {"name": "pager", "url": bad.url()}]}
        try:
            parse_config(json.dumps(document))
        except ConfigError as exc:
            pytest.skip(f"the config does not read notify providers yet: {exc}")
        (tmp_path / "config.json").write_text(json.dumps(document))
        done = run_app(["notify", "test"], tmp_path)
        assert (done.returncode, done.stdout) == (
            1, f"ops (json://***): sent\npager (json://***): failed: {HTTP_500}\n")
        done = run_app(["notify", "test", "ops"], tmp_path)
        assert (done.returncode, done.stdout) == (0, "ops (json://***): sent\n")
        done = run_app(["-c", "config.json", "notify", "test", "nope"], tmp_path)
        assert done.returncode == 2
        assert "no provider 'nope' in config.json: the providers are ops, pager" in done.stderr
        assert len(good.requests) == 2 and len(bad.requests) == 1
