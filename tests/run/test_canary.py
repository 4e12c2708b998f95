"""Is it me? With a canary configured, failures while the monitor itself has no network are
recorded as unknown and raise no alert; one line says it is offline, one that it is back."""

import threading
import time
from pathlib import Path

import pytest

from monitor.checks.watchdog import Watchdog
from monitor.cli.selftest import LocalServer
from monitor.run.canary import MIN_GAP, Canary
from tests.conftest import make_site
from tests.support.app import start, stop, wait_for, write
from tests.support.db import count_checks, query
from tests.support.hostile import refused_url


def canary_for(url, watchdog, changes):
    return Canary(make_site(url, interval=60, timeout=0.5), lambda: watchdog,
                  lambda online, result, away: changes.append((online, result.reason, away)))


def test_one_canary_check_answers_every_site_that_failed_at_the_same_time(hostile):
    watchdog, changes = Watchdog(), []
    try:
        canary = canary_for(hostile.base + "/slow", watchdog, changes)  # answers in 0.1 s
        since = time.monotonic()
        answers = []
        threads = [threading.Thread(target=lambda: answers.append(canary.is_offline(since)))
                   for _ in range(20)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5)
        assert answers == [False] * 20
        assert canary.checks == 1
        # An answer begun before a failed check began does not speak for it: a new canary
        # check is made, no sooner than MIN_GAP after the previous one.
        asked = time.monotonic()
        assert canary.is_offline(asked) is False
        assert canary.checks == 2
        assert time.monotonic() - asked >= MIN_GAP - (asked - since)
        assert changes == []
    finally:
        watchdog.stop()


def test_offline_and_back_are_each_reported_once(hostile):
    watchdog, changes = Watchdog(), []
    try:
        canary = canary_for(refused_url(), watchdog, changes)

        def fresh_check():  # for a check begun after every canary answer so far
            return canary.is_offline(time.monotonic())

        assert [fresh_check() for _ in range(3)] == [True] * 3
        canary.monitor = make_site(hostile.base + "/ok", interval=60, timeout=0.5)
        assert [fresh_check() for _ in range(3)] == [False] * 3
        assert [(online, reason) for online, reason, _ in changes] == [
            (False, "connect"), (True, None)]
        assert changes[1][2] > 0  # how long it was offline
        assert canary.checks == 6
    finally:
        watchdog.stop()


@pytest.mark.parametrize("processes", [1, 2])
def test_lost_network_gives_unknown_checks_and_no_alert_then_a_real_outage_alerts(
        tmp_path, processes):
    # In the monitor's process, or in probe processes that send results in batches.
    # The "network" is every server the monitor can reach: the canary's and the sites'.
    # Stopping the canary first and restarting it last keeps the test honest: a site must
    # never fail while the canary still answers, as with a real loss of the network.
    canary, sites = LocalServer(), LocalServer()
    canary.start()
    sites.start()
    urls = [f"{sites.url}?site={i}" for i in range(4)]
    config = tmp_path / "config.json"
    write(config, {"websites": [{"URL": u, "checkInterval": 0.2, "timeout": 0.5} for u in urls],
                   "alertWindow": 1, "processes": processes,
                   "canary": {"URL": canary.url, "checkInterval": 1, "timeout": 0.5}})
    db = str(tmp_path / "m.db")
    out_file = tmp_path / "out.txt"
    proc = start(["-m", "-c", str(config), "-db", db], None, stdout=out_file.open("w"))
    try:
        wait_for(lambda: count_checks(db) >= 20, 10, "checks")
        canary.stop()
        sites.stop()
        lost = time.time()
        wait_for(lambda: len(query(db, "SELECT id FROM website_monitoring WHERE timestamp > ?"
                                       " AND available IS NULL", lost)) >= 40, 10,
                 "unknown checks")
        sites.start()
        back = time.time()
        for url in urls:  # the sites are reachable again before the canary is
            wait_for(lambda url=url: query(db, "SELECT id FROM website_monitoring WHERE"
                                               " timestamp > ? AND host = ? AND available = 1",
                                           back, url), 10, "checks after the network came back")
        canary.start()
        wait_for(lambda: "ONLINE: " in Path(out_file).read_text(), 10, "back online")
        assert query(db, "SELECT count(*) FROM website_alerts") == [(0,)]

        # A real outage, with the canary answering: alerted as usual.
        sites.stop()
        wait_for(lambda: query(db, "SELECT count(*) FROM website_alerts")[0][0] == len(urls),
                 10, "the alerts of a real outage")
    finally:
        _, _, err = stop(proc)
        canary.stop()
        sites.stop()
    out = out_file.read_text()
    lines = out.splitlines()
    offline = [line for line in lines if line.startswith("OFFLINE: ")]
    online = [line for line in lines if line.startswith("ONLINE: ")]
    assert len(offline) == 1 and len(online) == 1, out
    assert offline[0].startswith(f"OFFLINE: the monitor has lost its network: canary "
                                 f"{canary.url} failed (connect: ")
    assert "after" in online[0]
    alerts = [line for line in lines if line.startswith("ALERT: ")]
    assert len(alerts) == len(urls)  # only the real outage
    assert lines.index(online[0]) < lines.index(alerts[0])
    # The server going away mid-request can also cut an answer short: still "offline".
    unknown = query(db, "SELECT DISTINCT reason, substr(detail, 1, 17) FROM website_monitoring"
                        " WHERE available IS NULL")
    assert unknown == [("offline", "monitor offline; ")]
    assert err == ""


def test_a_canary_that_answers_with_an_error_still_proves_the_network(hostile):
    # A rate limit or a 503 from the canary is an answer: the network is there.
    watchdog, changes = Watchdog(), []
    try:
        canary = canary_for(hostile.base + "/503", watchdog, changes)
        assert canary.is_offline(time.monotonic()) is False
        assert canary.online and changes == []
    finally:
        watchdog.stop()


def test_an_http_error_is_never_put_down_to_the_network(hostile, tmp_path):
    # The canary is unreachable, but a 500 came from the site over a working network: it
    # counts, it alerts, and no canary check is spent on it.
    from monitor.config import Config
    from monitor.engine import Engine
    from monitor.store.sqlite.writer import Store

    site = make_site(hostile.base + "/500", interval=0.05, window=1.0)
    config = Config(monitors=(site,), canary=make_site(refused_url(), interval=60, timeout=0.5))
    engine = Engine(config, Store(tmp_path / "m.db"))
    events = []
    engine.hooks.append(events.append)
    engine.start()
    try:
        deadline = time.monotonic() + 5
        while not events and time.monotonic() < deadline:
            threading.Event().wait(0.05)
        checks = engine.canary.checks
    finally:
        engine.stop()
    assert [(e.type, e.monitor_id) for e in events] == [("alert", site.id)]
    assert checks == 0
