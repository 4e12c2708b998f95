"""Windows on log time: the traffic and error-rate alerts at their exact edges, the
10-second reports, out-of-order lines, and the same output whatever the batches."""

import random

import pytest

from monitor.logs.formats import Hit
from monitor.logs.window import LogWindows, Report, TrafficEvent

T0 = 1_800_000_000  # a multiple of 10: periods start on it


def hits_per_second(rates, start=T0, status=200, section="/api", client="10.0.0.1"):
    """`rates[i]` requests in second start + i, spread over the second."""
    out = []
    for i, rate in enumerate(rates):
        out += [Hit(start + i + k / max(rate, 1), client, section, status, 100)
                for k in range(rate)]
    return out


def events(windows):
    return [e for e in windows.take() if isinstance(e, TrafficEvent)]


def feed(windows, hits):
    out = []
    for hit in hits:
        windows.add(hit)
        out += windows.take()
    return out


def test_exactly_at_the_threshold_is_not_an_alert_one_more_is():
    # 10 requests a second for 120 s: 1,200 in the window = 10/s exactly: no alert.
    windows = LogWindows(threshold=10.0, lag=0)
    out = feed(windows, hits_per_second([10] * 130))
    assert not [e for e in out if isinstance(e, TrafficEvent)]
    # One more request, in second 130: when that second is final (at 131), the window
    # [11, 131) holds 1,201: the alert, triggered at the boundary T0+131.
    out = feed(windows, hits_per_second([11, 10], start=T0 + 130))
    alerts = [e for e in out if isinstance(e, TrafficEvent)]
    assert [(e.type, e.time - T0, e.hits) for e in alerts] == [("alert", 131, 1201)]
    assert alerts[0].message == ("High traffic generated an alert - hits = 1201, triggered"
                                 " at 2027-01-15T08:02:11Z")


def test_recovery_when_back_at_the_threshold_with_how_long_it_lasted():
    windows = LogWindows(threshold=1.0, lag=0)
    # 2/s for 100 s: the window (120 s) passes 120 hits at second 61 (122 > 120).
    out = feed(windows, hits_per_second([2] * 100))
    out += feed(windows, hits_per_second([0] * 100 + [1, 1, 1], start=T0 + 100))
    changes = [(e.type, e.time - T0, e.hits) for e in out if isinstance(e, TrafficEvent)]
    # Alert when the window holds 121+: closing second 60 (hits 0..60: 122) at T0+61.
    # Recovery when back to 120 or fewer: the window [b-120, b) loses 2 per second
    # after b = 120 (no more requests after 100): at b = 121 it holds seconds 1..99 = 198.
    # ... it falls to 120 at b = 160 (seconds 40..99: 60 s x 2).
    assert changes == [("alert", 61, 122), ("recovery", 160, 120)]
    recovery = [e for e in out if isinstance(e, TrafficEvent)][1]
    assert recovery.message == ("High traffic alert recovered - hits = 120, recovered at"
                                " 2027-01-15T08:02:40Z, after 1m39s")
    assert recovery.start == T0 + 61 and recovery.end == T0 + 160


def test_no_repeat_while_it_stays_high():
    windows = LogWindows(threshold=1.0, lag=0)
    out = feed(windows, hits_per_second([5] * 600))
    assert [e.type for e in out if isinstance(e, TrafficEvent)] == ["alert"]


def test_reports_every_period_with_the_top_sections_clients_and_statuses():
    windows = LogWindows(threshold=100.0, top=2, lag=0)
    hits = ([Hit(T0 + 1, "10.0.0.1", "/api", 200, 100)] * 3
            + [Hit(T0 + 2, "10.0.0.2", "/img", 304, 0)] * 2
            + [Hit(T0 + 3, "10.0.0.3", "/", 503, 10)]
            + [Hit(T0 + 12, "10.0.0.1", "/api", 404, 1)])
    out = feed(windows, hits)
    reports = [e for e in out if isinstance(e, Report)]
    assert len(reports) == 1  # [T0, T0+10) is final once T0+12 is seen (lag 0)
    first = reports[0]
    assert (first.start - T0, first.end - T0, first.hits, first.bytes) == (0, 10, 6, 310)
    assert first.statuses == {"2xx": 3, "3xx": 2, "5xx": 1}
    assert first.sections == [("/api", 3, 3), ("/img", 2, 2)]
    assert first.clients == [("10.0.0.1", 3), ("10.0.0.2", 2)]
    assert first.rate == 0.6
    windows.flush()
    last = [e for e in windows.take() if isinstance(e, Report)]
    # The last period, cut at its last second's end: totals include the first period's.
    assert [(r.start - T0, r.end - T0, r.hits, r.sections) for r in last] == [
        (10, 13, 1, [("/api", 1, 4)])]


def test_out_of_order_lines_within_the_lag_land_in_their_second():
    windows = LogWindows(threshold=100.0, lag=5)
    hits = [Hit(T0 + 8, "a", "/x", 200, 1), Hit(T0 + 11, "a", "/x", 200, 1),
            Hit(T0 + 7, "b", "/y", 200, 1),  # 4 s older than the newest: in time
            Hit(T0 + 16, "a", "/x", 200, 1),  # [T0, T0+10) is final now
            Hit(T0 + 9, "c", "/z", 200, 1)]  # too late: counted in the oldest open second
    out = feed(windows, hits)
    first = [e for e in out if isinstance(e, Report)][0]
    assert first.hits == 2 and first.sections == [("/x", 1, 1), ("/y", 1, 1)]
    windows.flush()
    last = [e for e in windows.take() if isinstance(e, Report)][-1]
    assert last.late == 1 and last.total == 5


def test_the_output_is_the_same_whatever_the_batches():
    rng = random.Random(7)
    hits = []
    for second in range(900):
        rate = 30 if 200 <= second < 400 else rng.randint(0, 12)
        for _ in range(rate):
            jitter = rng.uniform(-3, 0)  # out of order, within the lag
            hits.append(Hit(T0 + second + rng.random() + jitter, f"10.0.0.{rng.randint(1, 50)}",
                            rng.choice(["/a", "/b", "/c", "/"]),
                            rng.choice([200, 200, 200, 404, 500]), rng.randint(0, 5000)))

    def run(batch):
        windows = LogWindows(threshold=10.0, max_error_rate=0.25)
        out = []
        for i in range(0, len(hits), batch):
            for hit in hits[i:i + batch]:
                windows.add(hit)
            out += windows.take()
        windows.flush()
        return out + windows.take()

    whole = run(len(hits))
    assert any(isinstance(e, TrafficEvent) for e in whole)
    for batch in (1, 7, 1000):
        assert run(batch) == whole


def test_error_rate_alert():
    windows = LogWindows(threshold=1000.0, max_error_rate=0.5, lag=0)
    out = feed(windows, hits_per_second([2] * 10) + hits_per_second([2] * 20, start=T0 + 10,
                                                                    status=500))
    changes = [(e.type, e.rule, e.time - T0) for e in out if isinstance(e, TrafficEvent)]
    # 5xx from T0+10: the share passes 50% when errors outnumber the 20 good requests.
    assert changes == [("alert", "errors", 21)]
    alert = [e for e in out if isinstance(e, TrafficEvent)][0]
    assert alert.message == ("High error rate generated an alert - 5xx = 52.4% of 42 hits,"
                             " triggered at 2027-01-15T08:00:21Z")


@pytest.mark.parametrize("gap", [3600, 86400 * 30])
def test_a_long_quiet_gap_is_crossed_at_once(gap):
    windows = LogWindows(threshold=1.0, lag=0)
    feed(windows, hits_per_second([5] * 200))
    # The log resumes: three lines agree on the new time (one alone is held).
    assert feed(windows, hits_per_second([1, 1], start=T0 + 200 + gap)) == []
    out = feed(windows, hits_per_second([1], start=T0 + 202 + gap))
    types = [e.type for e in out if isinstance(e, TrafficEvent)]
    assert types == ["recovery"]


def test_a_reopened_alert_waits_for_a_full_window_before_it_recovers():
    # After a restart the window starts empty: 2 requests a second look like 2 of 120 at
    # first. The alert read back stays open until the window has seen 120 s, then the
    # rule decides: still high, so no recovery, and no second alert either.
    windows = LogWindows(threshold=1.0, lag=0)
    windows.reopen("traffic", T0 - 50)
    out = feed(windows, hits_per_second([2] * 300))
    assert [e for e in out if isinstance(e, TrafficEvent)] == []
    out = feed(windows, hits_per_second([0] * 200 + [1, 1, 1], start=T0 + 300))
    recovery = [e for e in out if isinstance(e, TrafficEvent)]
    assert [(e.type, e.start) for e in recovery] == [("recovery", T0 - 50)]


def test_one_line_from_a_wrong_clock_is_dropped_not_followed():
    # A line dated a year ahead among steady traffic: held, never confirmed, dropped.
    windows = LogWindows(threshold=10.0)
    out = feed(windows, hits_per_second([50] * 60))
    out += feed(windows, [Hit(T0 + 365 * 86400, "x", "/", 200, 1)])
    out += feed(windows, hits_per_second([50] * 600, start=T0 + 60))
    alerts = [e for e in out if isinstance(e, TrafficEvent)]
    assert [e.type for e in alerts] == ["alert"]  # 50/s is above 10/s: seen
    assert len([e for e in out if isinstance(e, Report)]) == 65
    assert (windows.far_off, windows.late) == (1, 0)


def test_lines_that_disagree_far_ahead_are_dropped_and_the_flush_keeps_the_last():
    windows = LogWindows(threshold=10.0, lag=0)
    feed(windows, hits_per_second([1] * 10))
    # 9000's, then 5000's: the second contradicts the first (the log did not go on from
    # 9000). Both held, neither confirmed yet.
    feed(windows, [Hit(T0 + 9000, "x", "/a", 200, 1), Hit(T0 + 5000, "x", "/b", 200, 1)])
    assert windows.far_off == 0
    windows.flush()  # the end: the line held last is the log's last, the other dropped
    reports = [e for e in windows.take() if isinstance(e, Report)]
    assert reports[-1].sections == [("/b", 1, 1)] and windows.far_off == 1
    assert windows.far_sample is not None and windows.far_sample.section == "/a"


def test_far_lines_in_order_at_the_end_of_a_log_are_all_kept():
    windows = LogWindows(threshold=10.0, lag=0)
    feed(windows, hits_per_second([1] * 10))
    feed(windows, [Hit(T0 + 5000, "x", "/a", 200, 1), Hit(T0 + 9000, "x", "/b", 200, 1)])
    windows.flush()  # a sparse end: too few lines to confirm them, but in order
    reports = [e for e in windows.take() if isinstance(e, Report) and e.hits]
    assert [(r.start - T0, r.sections) for r in reports[-2:]] == [
        (5000, [("/a", 1, 1)]), (9000, [("/b", 1, 1)])]
    assert windows.far_off == 0


def test_no_alert_while_quiet_and_a_fresh_one_after():
    windows = LogWindows(threshold=1.0, lag=0)
    windows.quiet = True  # a maintenance
    assert [e for e in feed(windows, hits_per_second([5] * 200))
            if isinstance(e, TrafficEvent)] == []
    windows.quiet = False
    out = feed(windows, hits_per_second([5] * 2, start=T0 + 200))
    # The first boundary evaluated once it is over: the end of second 199, at 200.
    assert [(e.type, e.time - T0) for e in out if isinstance(e, TrafficEvent)] == [
        ("alert", 200)]


def test_the_totals_are_bounded_whatever_the_sections():
    from monitor.logs.window import MAX_SECTIONS

    windows = LogWindows(threshold=1e9, lag=0)
    feed(windows, [Hit(T0 + i / 100, "x", f"/{i}", 200, 1) for i in range(3 * MAX_SECTIONS)])
    windows.flush()
    windows.take()
    assert len(windows.totals) <= MAX_SECTIONS


def test_a_clock_stepped_back_starts_the_windows_again_at_the_new_time():
    # 50 a second for 10 minutes (an alert), then the server's clock is stepped back an
    # hour and the traffic goes on: the tables go on at the new time, nothing is late,
    # the alert stays open (not raised again), and it recovers when the traffic falls.
    windows = LogWindows(threshold=10.0)
    out = feed(windows, hits_per_second([50] * 600))
    before = len([e for e in out if isinstance(e, Report)])
    out = feed(windows, hits_per_second([50] * 300, start=T0 + 600 - 3600))
    reports = [e for e in out if isinstance(e, Report)]
    # The periods open at the step, reported; then 10 s tables at the new time.
    assert reports[0].start == T0 + 590 and reports[1].start == T0 - 3000
    assert len(reports) >= 2 + 28 and windows.restarts == 1 and windows.late == 0
    assert [e.type for e in out if isinstance(e, TrafficEvent)] == []
    out = feed(windows, hits_per_second([1] * 200, start=T0 + 900 - 3600))
    assert [e.type for e in out if isinstance(e, TrafficEvent)] == ["recovery"]
    assert before == 59


def counted(out, windows):
    """The requests of the periods in `out` and of those reported since (after a flush:
    all of them)."""
    return sum(r.hits for r in out + windows.take() if isinstance(r, Report))


def test_sparse_lines_after_a_quiet_spell_are_all_counted():
    # Lines at 0, 1 and 2 s, then 70 s of quiet, then one line every 35 s: each is more
    # than a minute after the newest when it comes, and no two of them are within a minute
    # of the first held. All of them are the log's, in order: every one counts.
    windows = LogWindows(threshold=10.0)
    hits = hits_per_second([1, 1, 1]) + [Hit(T0 + 72 + 35 * k, "b", "/b", 500, 1)
                                         for k in range(12)]
    out = feed(windows, hits)
    windows.flush()
    assert (counted(out, windows), windows.total, windows.far_off, windows.late) == (
        15, 15, 0, 0)


def test_one_line_an_hour_is_counted_in_its_own_period():
    windows = LogWindows(threshold=10.0)
    hits = [Hit(T0 + 3600 * k, "a", "/a", 200, 1) for k in range(10)]
    out = feed(windows, hits)
    windows.flush()
    reports = [r for r in out + windows.take() if isinstance(r, Report) and r.hits]
    assert [r.start - T0 for r in reports] == [3600 * k for k in range(10)]
    assert (windows.far_off, windows.late) == (0, 0)


def test_a_wrong_line_among_sparse_lines_is_dropped_and_counted():
    # One line from a wrong clock (a year ahead) in the middle of sparse traffic: the log
    # goes on at its own time after it, so it is dropped (and counted), the others kept.
    windows = LogWindows(threshold=10.0)
    hits = hits_per_second([1, 1, 1]) + [Hit(T0 + 72 + 35 * k, "b", "/b", 200, 1)
                                         for k in range(12)]
    hits.insert(6, Hit(T0 + 365 * 86400, "x", "/x", 200, 1))
    out = feed(windows, hits)
    windows.flush()
    reports = [r for r in out + windows.take() if isinstance(r, Report)]
    assert sum(r.hits for r in reports) == 15 and windows.far_off == 1
    assert reports[-1].end < T0 + 86400  # log time never went a year on
    assert windows.far_sample is not None and windows.far_sample.section == "/x"


def test_a_wrong_line_at_the_start_of_sparse_traffic_is_dropped():
    windows = LogWindows(threshold=10.0)
    hits = (hits_per_second([1, 1, 1]) + [Hit(T0 + 365 * 86400, "x", "/x", 200, 1)]
            + [Hit(T0 + 90 * k, "b", "/b", 200, 1) for k in range(1, 8)])
    out = feed(windows, hits)
    windows.flush()
    assert (counted(out, windows), windows.far_off) == (10, 1)


def test_no_recovery_while_quiet_and_the_recovery_after():
    # An alert open when a maintenance begins stays open, silent: the traffic falling in
    # the maintenance ends it only once the maintenance is over.
    windows = LogWindows(threshold=1.0, lag=0)
    out = feed(windows, hits_per_second([5] * 100))
    assert [e.type for e in out if isinstance(e, TrafficEvent)] == ["alert"]
    windows.quiet = True  # then one request every 30 s, for 5 minutes
    out = feed(windows, [Hit(T0 + 100 + 30 * k, "a", "/", 200, 1) for k in range(11)])
    assert [e for e in out if isinstance(e, TrafficEvent)] == []
    assert windows.alerting == {"traffic": T0 + 25}  # 125 in 25 s: above 120
    windows.quiet = False
    out = feed(windows, hits_per_second([1], start=T0 + 401))
    # The first boundary evaluated after it: the end of second 400.
    assert [(e.type, e.time - T0, e.start - T0) for e in out
            if isinstance(e, TrafficEvent)] == [("recovery", 401, 25)]


def test_wrong_lines_on_both_sides_are_dropped_after_the_lines_that_follow_them():
    from monitor.logs.window import DISMISS

    windows = LogWindows(threshold=10.0)
    feed(windows, hits_per_second([5] * 20))
    feed(windows, [Hit(T0 + 365 * 86400, "x", "/x", 200, 1),  # a year ahead
                   Hit(T0 - 365 * 86400, "y", "/y", 200, 1)])  # and a year behind
    feed(windows, [Hit(T0 + 20 + i / 10, "a", "/a", 200, 1) for i in range(DISMISS - 1)])
    assert windows.far_off == 0
    feed(windows, [Hit(T0 + 25, "a", "/a", 200, 1)])
    assert windows.far_off == 2 and windows.restarts == 0


@pytest.mark.parametrize("seed", range(5))
def test_every_line_of_a_log_in_order_counts_whatever_its_gaps(seed):
    rng = random.Random(seed)
    at, hits = float(T0), []
    for _ in range(2000):
        at += rng.choice([0.0, 0.1, 1, 35, 61, 90, 3600, 86400])
        hits.append(Hit(at, "a", "/a", 200, 1))
    windows = LogWindows(threshold=10.0)
    out = feed(windows, hits)
    windows.flush()
    assert (counted(out, windows), windows.far_off, windows.late, windows.restarts) == (
        2000, 0, 0, 0)


@pytest.mark.parametrize("seed", range(5))
def test_wrong_lines_among_a_log_in_order_are_dropped_and_every_other_counts(seed):
    # Lines from wrong clocks (a century ahead, a decade behind; no two in the order a
    # log goes on in) among lines in order (a fifth up to 4 s out of it, within the lag),
    # however sparse: those dropped and counted, every other counted in its own second,
    # log time never moved by them.
    rng = random.Random(seed)
    at, hits, wrong = float(T0), [], 0
    for i in range(2000):
        at += rng.choice([0.0, 0.1, 1, 35, 61, 90, 3600, 86400])
        jitter = -rng.uniform(0, 4) if rng.random() < 0.2 else 0.0
        hits.append(Hit(at + jitter, "a", "/a", 200, 1))
        if rng.random() < 0.01 and i < 1990:  # a wrong last line is the log's last
            wrong += 1
            off = 100 * 365 * 86400 if rng.random() < 0.5 else -10 * 365 * 86400
            hits.append(Hit(T0 + off - 1000 * i, "x", "/x", 200, 1))
    windows = LogWindows(threshold=10.0)
    out = feed(windows, hits)
    windows.flush()
    reports = [r for r in out + windows.take() if isinstance(r, Report)]
    assert wrong and sum(r.hits for r in reports) == 2000
    assert (windows.far_off, windows.restarts, windows.late) == (wrong, 0, 0)
    assert all(r.start >= T0 - 10 and r.end <= at + 10 for r in reports)
