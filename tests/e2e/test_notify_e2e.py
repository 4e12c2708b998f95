"""Notifications and the heartbeat under the real `-m`."""

import json
import random
import sqlite3
import threading
import time

from tests.support.app import run_app, start, stop, wait_for
from tests.support.db import count_checks, outbox, query
from tests.support.pages import PageServer
from tests.support.receivers import SmtpReceiver, WebhookReceiver

# The timeout of the sites whose messages a test lists exactly: past their 0.2 s interval,
# so that a loaded machine cannot cut a check of a healthy page and add an alert.
TIMEOUT = 2


def test_the_heartbeat_beats_while_the_monitor_runs_and_stops_with_it(tmp_path):
    with PageServer() as pages:
        beats: list[float] = []
        pages.set("/ping/secret-token", "ok")
        original = pages.RequestHandlerClass.do_GET

        def counting(handler):  # type: ignore[no-untyped-def]
            if handler.path.endswith("?hb=1"):  # not the site's own check of the page
                beats.append(time.monotonic())
            original(handler)

        pages.RequestHandlerClass.do_GET = counting  # type: ignore[method-assign]
        try:
            config = tmp_path / "config.json"
            config.write_text(json.dumps({
                "websites": [{"URL": pages.url("/ping/secret-token"), "checkInterval": 60}],
                "heartbeatUrl": pages.url("/ping/secret-token") + "?hb=1",
                "heartbeatInterval": 1}))
            proc = start(["-m", "-c", str(config), "-db", str(tmp_path / "m.db")], tmp_path)
            wait_for(lambda: len(beats) >= 3, 15, "three beats")
            _, out, err = stop(proc)
            count = len(beats)
            time.sleep(1.5)  # more than an interval: a beat would have come
            assert len(beats) == count  # none after the stop
        finally:
            pages.RequestHandlerClass.do_GET = original  # type: ignore[method-assign]
    assert proc.returncode == 0, err
    assert "secret-token" not in out + err


def _monitor(tmp_path, config: dict):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    return start(["-m", "-s", "-c", str(path), "-db", str(tmp_path / "m.db")], tmp_path)


def unsent(db) -> list[str]:
    """The keys of the messages not sent (yet, or given up)."""
    return [key for key, state in outbox(db).items() if state.state != "sent"]


def open_alerts(db) -> list[str]:
    """The monitors whose latest alert or recovery row is an alert."""
    return [monitor for monitor, kind in query(db, """
        SELECT monitor, type FROM website_alerts WHERE id IN (
            SELECT max(id) FROM website_alerts WHERE type IN ('alert', 'recovery')
            GROUP BY monitor)""") if kind == "alert"]


def test_an_alert_and_its_recovery_reach_a_webhook_and_a_mailbox(tmp_path):
    with PageServer() as pages, WebhookReceiver() as hook, SmtpReceiver() as mail:
        site = pages.set("/health", "down", status=503)
        proc = _monitor(tmp_path, {
            "websites": [{"URL": site, "name": "shop", "checkInterval": 0.2,
                          "alertWindow": 1, "timeout": TIMEOUT}],
            "notify": [{"name": "hook", "url": hook.url("json")},
                       {"name": "mail", "url": mail.url()}]})
        try:
            alert, = hook.wait_for(1, 20)
            pages.set("/health", "ok")
            _, recovery = hook.wait_for(2, 20)
            mails = mail.wait_for(2, 20)
        finally:
            _, out, err = stop(proc)
    assert proc.returncode == 0, err
    assert (alert.body["title"], alert.body["key"]) == ("ALERT: shop", "1:hook")
    assert alert.body["message"].startswith(f"Website {site} is down.")
    assert (recovery.body["title"], recovery.body["key"]) == ("RECOVERY: shop", "2:hook")
    assert [m.subject for m in mails] == ["ALERT: shop", "RECOVERY: shop"]
    db = tmp_path / "m.db"
    assert [(key, s.state == "sent", s.attempts) for key, s in outbox(db).items()] == [
        ("1:hook", 1, 1), ("1:mail", 1, 1), ("2:hook", 1, 1), ("2:mail", 1, 1)]
    shown = run_app(["-a", "--no-follow", "-db", str(db)], tmp_path, timeout=30)
    assert shown.stdout.splitlines()[1::2] == ["  sent to hook, mail"] * 2, shown.stdout


def test_kill_9_during_bursts_loses_no_notification(tmp_path):
    """Twenty `kill -9`s at random moments while 20 sites flap: every alert row has its
    messages, every message reaches the webhook at least once, and a message arrives twice
    only when a kill cut its send between the receiver taking it and the outbox saying so."""
    rng = random.Random(13)
    kills = 20
    with PageServer() as pages, WebhookReceiver() as hook:
        urls = [pages.set(f"/s{i}", "ok") for i in range(20)]
        config = {"websites": [{"URL": url, "checkInterval": 0.1, "alertWindow": 0.5}
                               for url in urls],
                  "notify": [{"name": "hook", "url": hook.url("json")}]}
        flapping = threading.Event()

        def flap() -> None:  # every site down, then up, every 0.4 s: bursts of 20 alerts
            status = 503
            while not flapping.wait(0.4):
                for i in range(len(urls)):
                    pages.set(f"/s{i}", "x", status=status)
                status = 200 if status == 503 else 503

        flipper = threading.Thread(target=flap, daemon=True)
        flipper.start()
        try:
            for _ in range(kills):
                before = count_checks(tmp_path / "m.db")
                proc = _monitor(tmp_path, config)
                # Running first (a loaded machine may take seconds to start it), then a
                # random moment of the run.
                wait_for(lambda b=before: count_checks(tmp_path / "m.db") > b, 60,
                         "the monitor's first checks")
                time.sleep(rng.uniform(0.1, 0.8))
                proc.kill()
                proc.communicate(timeout=10)
        finally:
            flapping.set()
            flipper.join(5)
        for i in range(len(urls)):
            pages.set(f"/s{i}", "ok")
        db = tmp_path / "m.db"
        # A last run, undisturbed, closes the alerts the kills left open and delivers what
        # they left in the outbox. Its recoveries are written after its start: the outbox
        # may be empty before they are; ten checks a site span two alert windows.
        before = count_checks(db)
        proc = _monitor(tmp_path, config)
        try:
            wait_for(lambda: count_checks(db) >= before + 10 * len(urls)
                     and not open_alerts(db) and not unsent(db), 60,
                     "every alert closed and every message sent")
        finally:
            stop(proc)
    alerts = query(db, "SELECT count(*) FROM website_alerts")[0][0]
    # Every row of the outbox, those without their alert row too (the reader asks by alert).
    rows = dict(query(db, "SELECT key, attempts FROM outbox"))
    received = [r.body["key"] for r in hook.requests]
    duplicates = len(received) - len(set(received))
    print(f"{kills} kills: {alerts} alerts, {len(rows)} messages, {len(received)} received,"
          f" {duplicates} twice")
    assert alerts >= 2 * kills  # bursts happened while the monitor ran
    assert len(rows) == alerts  # each alert row with its message, none without
    assert set(received) == set(rows)  # every one delivered at least once
    # A duplicate needs a send cut by a kill: at most one per kill (one sender, in order).
    assert duplicates <= kills


def test_a_provider_that_hangs_does_not_hold_the_stop(tmp_path):
    with PageServer() as pages, WebhookReceiver(mode="hang") as stuck, \
            WebhookReceiver() as hook:
        site = pages.set("/health", "down", status=503)
        proc = _monitor(tmp_path, {
            "websites": [{"URL": site, "checkInterval": 0.2, "alertWindow": 1}],
            "notify": [{"name": "stuck", "url": stuck.url("json", query="rto=30")},
                       {"name": "hook", "url": hook.url("json")}]})
        try:
            stuck.wait_for(1, 20)  # its send is in flight, and stays so
            hook.wait_for(1, 20)  # the other provider is not held up by it
        finally:
            elapsed, _, err = stop(proc)
    assert proc.returncode == 0, err
    assert elapsed < 2.0
    # Its message was not marked sent: it goes again at the next start.
    assert [s.provider for s in outbox(tmp_path / "m.db").values() if s.state != "sent"] == [
        "stuck"]


def test_after_a_restart_a_recovery_is_not_delivered_before_its_alert(tmp_path):
    """The provider answers 500: the alert waits for its retry (5 s), the recovery behind
    it; `-m` is stopped, the provider fixed, `-m` started again before the retry is due.
    The receiver must get the alert, then the recovery, never the reverse."""
    db = tmp_path / "m.db"
    with PageServer() as pages, WebhookReceiver("fail", failures=10**6) as hook:
        site = pages.set("/health", "down", status=503)
        config = {"websites": [{"URL": site, "name": "shop", "checkInterval": 0.2,
                                "alertWindow": 1, "timeout": TIMEOUT}],
                  "notify": [{"name": "hook", "url": hook.url("json")}]}
        proc = _monitor(tmp_path, config)
        try:
            hook.wait_for(1, 20)  # the alert's first attempt: 500
            pages.set("/health", "ok")
            wait_for(lambda: len(outbox(db)) == 2, 20, "the recovery in the outbox")
        finally:
            _, _, err = stop(proc)
        assert proc.returncode == 0, err
        # When a message is due and when it went: the reader gives neither (its senders ask
        # for what is due now).
        (retry_at,) = query(db, "SELECT retry_at FROM outbox WHERE key = '1:hook'")[0]
        hook.mode = "ok"
        proc = _monitor(tmp_path, config)
        try:
            hook.wait_for(3, 20)
            wait_for(lambda: not unsent(db), 20, "both sent")
        finally:
            _, _, err = stop(proc)
    assert proc.returncode == 0, err
    assert [(r.status, r.body["title"], r.body["key"]) for r in hook.requests] == [
        (500, "ALERT: shop", "1:hook"), (200, "ALERT: shop", "1:hook"),
        (200, "RECOVERY: shop", "2:hook")]
    # The alert was sent again at its retry, not before.
    sent = dict(query(db, "SELECT key, sent FROM outbox"))
    assert retry_at <= sent["1:hook"] <= sent["2:hook"]


def test_a_message_older_than_notify_retry_for_at_a_restart_is_not_sent(tmp_path):
    """notifyRetryFor 20 s; the first attempt is answered 500; `-m` is stopped and started
    again 30 s later (the outbox row is aged by 30 s while it is stopped, in place of the
    wait), the provider fixed: the message is given up, not sent, and `-a` says so."""
    db = tmp_path / "m.db"
    with PageServer() as pages, WebhookReceiver("fail", failures=10**6) as hook:
        site = pages.set("/health", "down", status=503)
        config = {"websites": [{"URL": site, "name": "shop", "checkInterval": 0.2,
                                "alertWindow": 1, "timeout": TIMEOUT}],
                  "notify": [{"name": "hook", "url": hook.url("json")}],
                  "notifyRetryFor": 20}
        proc = _monitor(tmp_path, config)
        try:
            hook.wait_for(1, 20)  # the alert's first attempt: 500
            wait_for(lambda: [s.attempts for s in outbox(db).values()] == [1], 10,
                     "the attempt recorded")
        finally:
            _, _, err = stop(proc)
        assert proc.returncode == 0, err
        conn = sqlite3.connect(db)  # 30 s go by while it is stopped
        with conn:
            conn.execute("UPDATE outbox SET created = created - 30, retry_at = retry_at - 30")
        conn.close()
        hook.mode = "ok"
        proc = _monitor(tmp_path, config)
        try:
            wait_for(lambda: [s.state for s in outbox(db).values()] == ["failed"], 20,
                     "the message given up")
        finally:
            _, _, err = stop(proc)
    assert proc.returncode == 0, err
    assert [r.status for r in hook.requests] == [500]
    assert [(s.state, s.error) for s in outbox(db).values()] == [
        ("failed", "expired after notifyRetryFor (20 s), not sent; last error: HTTP 500")]
    assert ("notification to hook expired after notifyRetryFor (20 s), not sent"
            " (1 attempt; last error: HTTP 500)") in err
    shown = run_app(["-a", "--no-follow", "-db", str(db)], tmp_path, timeout=30)
    assert shown.stdout.splitlines()[1] == (
        "  failed: hook (expired after notifyRetryFor (20 s), not sent; last error:"
        " HTTP 500)"), shown.stdout
