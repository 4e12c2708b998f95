"""The running monitor as front ends drive it: `Runtime.start()`, `step(now)` at the time
the test chooses, `stop()`; a real SQLite store and real loopback servers."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.core.model import CheckResult
from monitor.runtime import Runtime
from monitor.store.api import SetMaintenance
from monitor.store.sqlite.queries import open_reader
from monitor.store.sqlite.writer import Store
from tests.support.pages import PageServer
from tests.support.receivers import WebhookReceiver

DAY = 86400.0


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str) -> None:
        self.lines.append(text)


@pytest.fixture
def pages() -> Iterator[PageServer]:
    with PageServer() as server:
        yield server


def write_config(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc))
    return path


def make_runtime(tmp_path: Path, doc: dict, lines: Lines, problems: Lines) -> Runtime:
    config_path = write_config(tmp_path / "config.json", doc)
    store = Store(tmp_path / "m.db", on_error=problems)
    return Runtime(load_config(config_path), store, config_path=config_path,
                   on_line=lines, on_problem=problems)


def one_site(pages: PageServer, **extra: object) -> dict:
    return {"websites": [{"URL": pages.set("/a", "ok"), "name": "a", "checkInterval": 60}],
            **extra}


def test_a_changed_config_file_is_reloaded_at_the_next_step(tmp_path, pages) -> None:
    lines, problems = Lines(), Lines()
    runtime = make_runtime(tmp_path, one_site(pages), lines, problems)
    runtime.start()
    try:
        runtime.step()
        assert not [line for line in lines.lines if line.startswith("Reloaded")]
        doc = one_site(pages)
        doc["websites"].append({"URL": pages.set("/b", "ok"), "name": "b",
                                "checkInterval": 60})
        write_config(tmp_path / "config.json", doc)
        runtime.step()
        assert f"Reloaded {tmp_path / 'config.json'}: 2 monitor(s)." in lines.lines
        assert [m.name for m in runtime.config.monitors] == ["a", "b"]
        runtime.step()  # unchanged since: not reloaded again
        assert len([line for line in lines.lines if line.startswith("Reloaded")]) == 1
    finally:
        runtime.stop()
    assert problems.lines == []


def test_a_file_replaced_by_a_rename_of_the_same_time_and_size_is_reloaded(
        tmp_path, pages) -> None:
    # As an editor or the API's editor replaces it: a new inode, the stamp otherwise equal.
    lines, problems = Lines(), Lines()
    runtime = make_runtime(tmp_path, one_site(pages), lines, problems)
    runtime.start()
    try:
        runtime.step()
        path = tmp_path / "config.json"
        before = path.stat()
        text = path.read_text().replace('"checkInterval": 60}', '"checkInterval": 61}', 1)
        assert len(text) == before.st_size
        other = write_config(tmp_path / "new.json", json.loads(text))
        assert other.stat().st_size == before.st_size
        os.utime(other, ns=(before.st_atime_ns, before.st_mtime_ns))
        os.replace(other, path)
        runtime.step()
        assert [m.interval for m in runtime.config.monitors] == [61.0]
    finally:
        runtime.stop()


def test_a_bad_config_keeps_the_running_one(tmp_path, pages) -> None:
    lines, problems = Lines(), Lines()
    runtime = make_runtime(tmp_path, one_site(pages), lines, problems)
    runtime.start()
    try:
        (tmp_path / "config.json").write_text('{"websites": [{"checkInterval": 1}]}')
        runtime.step()
        assert len(problems.lines) == 1
        assert problems.lines[0].startswith("Error: ")
        assert problems.lines[0].endswith("(still running the previous configuration)")
        assert [m.name for m in runtime.config.monitors] == ["a"]
    finally:
        runtime.stop()


def test_a_requested_reload_reads_the_file_even_when_it_looks_unchanged(tmp_path,
                                                                         pages) -> None:
    lines, problems = Lines(), Lines()
    runtime = make_runtime(tmp_path, one_site(pages), lines, problems)
    runtime.start()
    try:
        path = tmp_path / "config.json"
        stamp = path.stat()
        # Same size and modification time: only a request (SIGHUP) reads it.
        doc = one_site(pages)
        doc["websites"][0]["name"] = "b"
        path.write_text(json.dumps(doc))
        os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
        runtime.step()
        assert [m.name for m in runtime.config.monitors] == ["a"]
        runtime.request_reload()
        runtime.step()
        assert [m.name for m in runtime.config.monitors] == ["b"]
    finally:
        runtime.stop()
    assert problems.lines == []


def test_the_purge_runs_when_it_is_due_on_the_clock_given(tmp_path, pages) -> None:
    lines, problems = Lines(), Lines()
    runtime = make_runtime(tmp_path, one_site(pages, retentionDays=1), lines, problems)
    site = runtime.config.monitors[0].id
    started = time.time()
    runtime.start()  # purges at once: nothing to purge yet
    try:
        runtime.store.flush()
        assert runtime.store.purged == (0, 0)
        old = CheckResult(site, started - 3 * DAY, True, 200, 12.0)
        runtime.store.put_check(old)
        runtime.store.flush()
        runtime.step(started + 60)  # the last purge is a minute old: not due
        runtime.store.flush()
        assert runtime.store.purged == (0, 0)
        runtime.step(started + 3601)  # an hour on: due
        runtime.store.flush()
        assert runtime.store.purged[0] == 1
    finally:
        runtime.stop()
    assert problems.lines == []


def test_maintenance_set_from_another_store_applies_at_the_next_step(tmp_path,
                                                                      pages) -> None:
    lines, problems = Lines(), Lines()
    runtime = make_runtime(tmp_path, one_site(pages), lines, problems)
    site = runtime.config.monitors[0]
    runtime.start()
    try:
        runtime.step()
        assert not [line for line in lines.lines if line.startswith("MAINTENANCE")]
        other = Store(tmp_path / "m.db").start()  # as the `maintenance` command does
        other.set_maintenance(SetMaintenance(site.id, time.time() - 1, None))
        other.close()
        runtime.step()
        assert [line for line in lines.lines if line.startswith("MAINTENANCE")] == [
            f"MAINTENANCE: {site.label}: checks recorded, no alerts"]
        other = Store(tmp_path / "m.db").start()
        other.set_maintenance(SetMaintenance(site.id, None))
        other.close()
        runtime.step()
        assert lines.lines[-1] == f"MAINTENANCE OVER: {site.label}"
    finally:
        runtime.stop()
    assert problems.lines == []


def test_an_alert_is_announced_stored_and_notified(tmp_path, pages) -> None:
    with WebhookReceiver() as hook:
        lines, problems = Lines(), Lines()
        down = pages.set("/down", "down", status=503)
        runtime = make_runtime(tmp_path, {
            "websites": [{"URL": down, "name": "shop", "checkInterval": 0.1,
                          "alertWindow": 0.5}],
            "notify": [{"name": "hook", "url": hook.url("json")}]}, lines, problems)
        announced = Lines()
        runtime.add_alert_hook(lambda event: announced(event.type))
        runtime.start()
        try:
            request, = hook.wait_for(1, 20)
        finally:
            runtime.stop()
        assert runtime.fatal is None
        assert runtime.checks_recorded >= 1
        assert runtime.checks_done >= 1
    assert request.body["title"] == "ALERT: shop"
    assert announced.lines[:1] == ["alert"]
    reader = open_reader(tmp_path / "m.db")
    try:
        assert reader.alert_types(runtime.config.monitors[0].id)[:1] == ["alert"]
    finally:
        reader.close()


def test_stop_without_start_and_a_second_stop_do_nothing(tmp_path, pages) -> None:
    lines, problems = Lines(), Lines()
    runtime = make_runtime(tmp_path, one_site(pages), lines, problems)
    runtime.stop()
    runtime.step()  # not started: nothing runs
    runtime.start()
    runtime.stop()
    runtime.stop()
    assert problems.lines == []


def test_the_alerts_of_the_logs_command_are_notified_through_the_outbox(tmp_path) -> None:
    from tests.support.access_logs import T0, traffic
    from tests.support.app import Live, wait_for
    from tests.support.db import outbox

    with WebhookReceiver() as hook:
        # config.json where `logs` runs: its providers hear of the log's alerts.
        write_config(tmp_path / "config.json", {
            "websites": [{"URL": "http://127.0.0.1:9/", "checkInterval": 60}],
            "notify": [{"name": "hook", "url": hook.url("json")}]})
        log = tmp_path / "access.log"
        log.write_text("\n".join(traffic(T0, 600, spike=(200, 330, 30), seed=3)) + "\n")
        with Live(log, tmp_path) as live:
            request, = hook.wait_for(1, 30)
            wait_for(lambda: "High traffic alert recovered" in live.text(), 30,
                     "the recovery printed")
            hook.wait_for(2, 30)
        assert live.proc.returncode == 0, live.err
    alert, recovery = hook.requests
    assert alert.body["title"] == f"ALERT: {log}"
    assert alert.body["message"].startswith("High traffic generated an alert - hits = ")
    assert alert.body["key"] == "1:hook"
    assert recovery.body["title"] == f"RECOVERY: {log}"
    assert [(key, s.state == "sent") for key, s in outbox(tmp_path / "monitoring.db").items()
            ] == [("1:hook", 1), ("2:hook", 1)]


def test_a_runtime_beside_the_monitor_sends_its_alerts_and_leaves_the_rest_to_the_owner(
        tmp_path, pages) -> None:
    # The `logs` command's runtime, beside a `-m` that owns the database: the alerts it is
    # handed are stored and notified; the config's monitors, purge and heartbeat are the
    # owner's (its monitors stay listed, its old check unpurged, no heartbeat sent).
    from monitor.alerts import AlertEvent
    from monitor.core.model import Monitor

    with WebhookReceiver() as hook, WebhookReceiver() as beat:
        config = load_config(write_config(tmp_path / "config.json", {
            **one_site(pages, retentionDays=1), "heartbeatUrl": beat.url("http"),
            "notify": [{"name": "hook", "url": hook.url("json")}]}))
        site = config.monitors[0]
        now = time.time()
        owner = Store(tmp_path / "m.db")
        owner.set_monitors(config.monitors)
        owner.put_check(CheckResult(site.id, now - 3 * DAY, True, 200, 12.0))
        owner.close()
        problems = Lines()
        runtime = Runtime(config, Store(tmp_path / "m.db", on_error=problems),
                          on_problem=problems, beside=True)
        log = Monitor(id="log:/var/log/x.log", kind="log", target="/var/log/x.log")
        runtime.start()
        try:
            runtime.step(now + 3601)  # a purge would be due by now
            runtime.emit(AlertEvent("alert", log.id, 1.0, now, now, None,
                                    "High traffic generated an alert - hits = 1450"), log)
            request, = hook.wait_for(1, 20)
            time.sleep(0.5)  # a heartbeat or a check would have come by now
        finally:
            runtime.stop()
        assert beat.requests == []
    assert request.body["title"] == "ALERT: /var/log/x.log"
    assert request.body["message"] == "High traffic generated an alert - hits = 1450"
    reader = open_reader(tmp_path / "m.db")
    try:
        assert [m.id for m in reader.active_monitors()] == [site.id]
        assert reader.last_check_time() == now - 3 * DAY  # neither checked nor purged
        assert reader.alert_types(log.id) == ["alert"]
    finally:
        reader.close()
    assert problems.lines == []
