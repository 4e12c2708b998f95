"""The scheduler driven step by step with a fake monotonic clock: no threads, no sleeps."""

import threading

from monitor.run.scheduler import Scheduler, WorkerPool
from tests.conftest import make_site
from tests.support.clock import Clock


def make(sites, start=1000.0):
    clock = Clock(start)
    dispatched = []
    scheduler = Scheduler(lambda site, due: dispatched.append((site.id, due)), clock=clock)
    scheduler.set_monitors(sites)
    return scheduler, clock, dispatched


def test_fixed_rate_without_drift():
    site = make_site("http://a/", interval=1.5)
    scheduler, clock, dispatched = make([site])
    for step in range(40):
        clock.now = 1000.0 + step * 0.25 + 0.01  # polled late each time, by 10 ms
        scheduler.run_due(clock.now)
        for url, _due in dispatched[-1:]:
            scheduler.done(url)
    dues = [due for _url, due in dispatched]
    # Due times stay on the 1.5 s grid: lateness of a poll never pushes the schedule.
    assert dues == [1000.0 + 1.5 * k for k in range(len(dues))]
    assert len(dues) == 7


def test_sites_are_spread_over_their_first_interval():
    sites = [make_site(f"http://s{i}/", interval=2.0) for i in range(4)]
    scheduler, _clock, dispatched = make(sites)
    scheduler.run_due(1002.0 - 1e-9)
    assert [due for _url, due in dispatched] == [1000.0, 1000.5, 1001.0, 1001.5]


def test_never_two_checks_of_one_site_at_once():
    site = make_site("http://a/", interval=1.0)
    scheduler, clock, dispatched = make([site])
    scheduler.run_due(1000.0)
    assert len(dispatched) == 1
    # Still running at its next two slots: both are skipped, not queued.
    scheduler.run_due(1001.0)
    scheduler.run_due(1002.0)
    assert len(dispatched) == 1
    assert scheduler.skipped == 2
    # The check that covered them gets their due times: they share its verdict.
    assert scheduler.done(site.id) == [1001.0, 1002.0]
    scheduler.run_due(1003.0)
    assert [due for _url, due in dispatched] == [1000.0, 1003.0]
    assert scheduler.done(site.id) == []


def test_never_two_checks_of_one_site_at_once_across_a_reload():
    # Removed and added back while its check runs: the new entry must wait for that check,
    # and the old check ending must not free a newer one's slot for a third.
    site = make_site("http://a/", interval=1.0)
    scheduler, clock, dispatched = make([site])
    scheduler.run_due(1000.0)
    scheduler.set_monitors([])
    clock.now = 1000.5
    scheduler.set_monitors([site])  # due at once
    scheduler.run_due(1000.5)
    scheduler.run_due(1001.5)
    assert [due for _url, due in dispatched] == [1000.0]
    assert scheduler.done(site.id) == [1000.5, 1001.5]
    scheduler.run_due(1002.5)
    assert [due for _url, due in dispatched] == [1000.0, 1002.5]
    scheduler.run_due(1003.5)  # the check of 1002.5 still runs
    assert len(dispatched) == 2


def test_a_stall_skips_missed_slots_instead_of_bursting():
    site = make_site("http://a/", interval=1.0)
    scheduler, clock, dispatched = make([site])
    scheduler.run_due(1000.0)
    scheduler.done(site.id)
    scheduler.run_due(1005.5)  # the process was stopped for five seconds
    assert [due for _url, due in dispatched] == [1000.0, 1001.0]
    assert scheduler.skipped == 4
    assert scheduler.next_due() == 1006.0


def test_one_hanging_site_does_not_hold_back_others():
    slow = make_site("http://slow/", interval=1.0)
    fast = make_site("http://fast/", interval=1.0)
    scheduler, clock, dispatched = make([slow, fast])
    for second in range(5):
        scheduler.run_due(1000.0 + second + 0.5)
        scheduler.done(fast.id)  # the slow one never finishes
    fast_dues = [due for url, due in dispatched if url == fast.id]
    assert fast_dues == [1000.5, 1001.5, 1002.5, 1003.5, 1004.5]
    assert [url for url, _ in dispatched].count(slow.id) == 1


def test_reload_adds_removes_and_changes_sites():
    a = make_site("http://a/", interval=1.0)
    b = make_site("http://b/", interval=1.0)
    scheduler, clock, dispatched = make([a, b])
    scheduler.run_due(1000.9)
    for url, _ in dispatched:
        scheduler.done(url)
    dispatched.clear()
    clock.now = 1001.2
    c = make_site("http://c/", interval=1.0)
    a_slow = make_site("http://a/", interval=5.0)
    scheduler.set_monitors([a_slow, c])  # b removed, a slower, c new
    scheduler.run_due(1001.2)
    # a keeps the slot it already had (due at 1001.0), c starts at once.
    assert dispatched == [("http://a/", 1001.0), ("http://c/", 1001.2)]
    for url, _ in dispatched:
        scheduler.done(url)
    scheduler.run_due(1010.0)
    urls = [url for url, _ in dispatched]
    assert "http://b/" not in urls
    # From there a runs every 5 s: 1006.0 is its next slot.
    assert [due for url, due in dispatched if url == "http://a/"] == [1001.0, 1006.0]


def test_unchanged_sites_keep_their_phase_on_reload():
    a = make_site("http://a/", interval=2.0)
    scheduler, clock, dispatched = make([a])
    scheduler.run_due(1000.0)
    scheduler.done(a.id)
    scheduler.set_monitors([a, make_site("http://new/", interval=2.0)])
    assert scheduler.next_due() == 1000.0  # the new site starts now
    scheduler.run_due(1002.0)
    assert ("http://a/", 1002.0) in dispatched


def test_worker_pool_grows_only_when_no_worker_is_idle():
    pool = WorkerPool(max_workers=3)
    release = threading.Event()
    started = threading.Semaphore(0)

    def block():
        started.release()
        release.wait(5)

    for _ in range(3):
        pool.submit(block)
    for _ in range(3):
        assert started.acquire(timeout=5)
    assert pool.size == 3
    pool.submit(block)  # queued: the pool is at its bound
    assert pool.size == 3
    release.set()
    assert started.acquire(timeout=5)
    done = threading.Event()
    for _ in range(10):
        pool.submit(lambda: None)
    pool.submit(done.set)
    assert done.wait(5)
    assert pool.size == 3
    pool.shutdown()


def test_a_crashing_task_leaves_a_traceback_without_secrets(capfd):
    from monitor.core import secrets

    secrets.remember(["pw-in-a-traceback"])
    pool = WorkerPool(max_workers=1)
    done = threading.Event()

    def crash():
        raise RuntimeError("cannot reach https://user:pw-in-a-traceback@a.test/")

    pool.submit(crash)
    pool.submit(done.set)
    assert done.wait(5)
    pool.shutdown()
    err = capfd.readouterr().err
    assert "RuntimeError: cannot reach https://user:***@a.test/" in err
    assert "pw-in-a-traceback" not in err
