"""The summary of many monitors read in one statement (store.window_summaries) is what
every monitor's counts say (window_totals, summed in Python): the same counts by state, the
same monitors listed in the same order; and the slowest p99 found from a few histograms is
the slowest of all. On both stores (the `backend` fixture: the rows written once a module
on each)."""

import random

import pytest

from monitor.core.model import CheckResult
from monitor.render.summary import STATES, summaries, summarize, worst_sections
from monitor.stats import window_pieces, window_start, window_stats, window_totals
from monitor.store.api import MonitorRow
from tests.store.conftest import BACKENDS, module_backend, reading

NOW = 1_800_000_000.0
MONITORS = 60


@pytest.fixture(scope="module", params=BACKENDS)
def db(request, tmp_path_factory):
    """60 monitors over 90 minutes (a check a minute, more for some), of every state: up,
    failing now and then, down now, warning, in maintenance, not checked in the window,
    configured and never checked, no longer configured; response times drawn at random."""
    with module_backend(request, tmp_path_factory.mktemp("summaries")) as backend:
        write(backend)
        yield backend


def write(backend):
    rng = random.Random(7)
    ids = [f"http://m{i:02d}.test/" for i in range(MONITORS)]
    store = backend.make(clock=lambda: NOW)
    store.set_monitors([MonitorRow(m, "http", m, "", 60.0) for m in ids]
                       + [MonitorRow("http://gone.test/", "http", "http://gone.test/")])
    for minute in range(90, 0, -1):
        at = NOW - minute * 60 + 5
        for i, monitor in enumerate(ids[:-1]):
            if i % 20 == 19 and minute < 30:
                continue  # not checked in the last half hour
            for extra in range(1 + (i % 7 == 0) * 3):  # some checked every 15 s
                ts = at + extra * 15
                ms = rng.lognormvariate(4, 0.6 + (i % 5) / 4)
                if i % 11 == 3 and minute <= 3 + i % 4:  # down now, since a few minutes
                    store.put_check(CheckResult(monitor, ts, False, None, ms, "timeout"))
                elif i % 13 == 5:  # in maintenance
                    store.put_check(CheckResult(monitor, ts, None, None, 0.0, "maintenance"))
                elif i % 9 == 4:  # warning, failing now and then
                    up = rng.random() > 0.1
                    store.put_check(CheckResult(monitor, ts, up, 200 if up else 503, ms,
                                                "tls_expiry" if up else "http_status",
                                                warning=up))
                else:
                    up = rng.random() > (i % 4) * 0.03
                    store.put_check(CheckResult(monitor, ts, up, 200 if up else 503, ms,
                                                None if up else "http_status"))
        store.put_check(CheckResult("http://gone.test/", at, True, 200, 5.0))
    store.set_monitors([MonitorRow(m, "http", m, "", 60.0) for m in ids])  # gone.test gone
    store.close()


def same(x, y) -> bool:
    """Equal, sums of floats within their last digits (SQL adds them in another order)."""
    if isinstance(x, float) or isinstance(y, float):
        return x == pytest.approx(y, rel=1e-12)
    if isinstance(x, dict):
        return x.keys() == y.keys() and all(same(x[k], y[k]) for k in x)
    if isinstance(x, (tuple, list)):
        return len(x) == len(y) and all(same(a, b) for a, b in zip(x, y, strict=True))
    return x == y


@pytest.mark.parametrize("limits", [(3, 5, 7), (10, 100, 100), (1, 1, 1)])
@pytest.mark.parametrize("halves", [False, True])
def test_one_statement_reads_what_the_counts_say(db, limits, halves, monkeypatch):
    """Read whole, or in two halves of the monitors at once (as 20,000 or more are) and
    merged: the same."""
    if halves:
        if db.name != "sqlite":
            pytest.skip("SQLite only: its halves read on a helper connection")
        monkeypatch.setattr(db.module("windows"), "SPLIT_AT", 2)
    with reading(db) as reader:
        spans = [(window_start(NOW, seconds), NOW) for seconds in (600, 3600, 5400)]
        read = reader.window_summaries([window_pieces(reader, *span)[0] for span in spans],
                                       *limits, special=True)
        for span, found in zip(spans, read, strict=True):
            expected = summarize(window_totals(reader, *span), *limits, special=True)
            assert same(found.counts, expected.counts)
            assert set(found.counts) <= set(STATES)
            for part in ("down", "lowest", "slowest", "worst", "special"):
                assert [t.monitor_id for t in getattr(found, part)] == [
                    t.monitor_id for t in getattr(expected, part)], part
                assert same(getattr(found, part), getattr(expected, part)), part
        # Every state is present in the data; the monitor configured and never checked is
        # idle, the one no longer configured is not counted.
        assert {"down", "warning", "unstable", "up", "maintenance", "idle"} <= set(
            read[0].counts)
        assert sum(entry[0] for entry in read[0].counts.values()) == MONITORS
        assert all("gone" not in t.monitor_id for t in read[2].worst)


def test_the_slowest_p99_from_a_few_histograms_is_the_slowest_of_all(db):
    with reading(db) as reader:
        for seconds in (600, 3600):
            start = window_start(NOW, seconds)
            (found,) = summaries(reader, [(start, NOW)], 10, 4, 0)
            # Four candidates read at first: too few here, read again with more.
            sections = worst_sections(reader, found, start, NOW, 3, 4)
            shown = {m for section in sections[:2] for m in section.monitor_ids}
            stats = window_stats(reader, start, NOW)
            states = reader.monitor_states()
            timed = [s for s in stats.values() if s.p99 is not None
                     and s.monitor_id not in shown
                     and states.get(s.monitor_id, (None, None))[1] is None
                     and s.monitor_id not in reader.in_maintenance()]
            slowest = sorted(timed, key=lambda s: (-s.p99, s.monitor_id))[:3]
            assert sections[2].monitor_ids == [s.monitor_id for s in slowest]
