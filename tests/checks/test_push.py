"""The `push` kind: its keys and their errors, its watch judging pushes on an injected
clock (up, late, grace, failed, a run's duration, values, once a minute), and its
generated tokens (stable, owner-only key, one per id)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from monitor.checks.push import tokens
from monitor.checks.push.watch import RESULT_EVERY, SETTLE, PushWatch
from monitor.config import parse_config
from monitor.core.errors import ConfigError
from monitor.core.model import CheckResult
from monitor.core.push import Latest, Push

T0 = 1_700_000_000.0
DAY, HOUR = 86400.0, 3600.0
TOKEN = "backup-0123456789abcdef"


def _monitor(**keys):
    entry = {"type": "push", "name": "nightly backup", "checkInterval": DAY, "grace": HOUR,
             **keys}
    return parse_config(json.dumps({"monitors": [entry]}), "config.json").monitors[0]


class Feed:
    """The engine's feed, in memory: what a test pushes is taken at the next poll."""

    def __init__(self, latest: Latest | None = None) -> None:
        self.latest = latest or Latest()
        self.pushes: list[Push] = []
        self.next_id = 100
        self.closed = False

    def push(self, at: float, event: str = "ping", status: str | None = None,
             message: str = "", value: float | None = None) -> None:
        self.next_id += 1
        self.pushes.append(Push("push:nightly backup", at, event, status, message, value,
                                self.next_id))

    def open(self, monitor_id):
        return self.latest

    def take(self, monitor_id, wall):
        taken, self.pushes = self.pushes, []
        return taken, wall

    def close(self, monitor_id):
        self.closed = True


def _watch(feed: Feed, **keys) -> PushWatch:
    return PushWatch(_monitor(**keys), feed, mono=lambda: 0.0)


def _poll(watch: PushWatch, at: float) -> list[CheckResult]:
    results, events, warnings = watch.poll(at)
    assert events == [] and warnings == []
    return results


def _said(results: list[CheckResult]) -> list[tuple]:
    return [(r.timestamp, r.state, r.reason, r.detail) for r in results]


# -- the config ------------------------------------------------------------------------------

def test_keys_make_a_monitor_named_by_its_name_judged_once_a_minute(monkeypatch):
    monkeypatch.setenv("BACKUP_PUSH", TOKEN)
    monitor = _monitor(token="${BACKUP_PUSH}")
    assert (monitor.id, monitor.kind, monitor.target) == ("push:nightly backup", "push",
                                                          "nightly backup")
    # Results come once a minute whatever checkInterval says (the job's period).
    assert monitor.interval == 60.0
    assert (monitor.spec.token, monitor.spec.period, monitor.spec.grace) == (TOKEN, DAY, HOUR)
    assert monitor.secrets == (TOKEN,)
    assert TOKEN not in repr(monitor)
    generated = _monitor()
    assert generated.spec.token is None and generated.secrets == ()
    # Grace by default: a tenth of the period, at least a minute.
    entry = {"type": "push", "id": "job-7", "checkInterval": 300}
    by_id = parse_config(json.dumps({"monitors": [entry]}), "c.json").monitors[0]
    assert (by_id.id, by_id.target, by_id.spec.grace) == ("job-7", "job-7", 60.0)
    entry = {"type": "push", "name": "daily", "checkInterval": "1d"}
    assert parse_config(json.dumps({"monitors": [entry]}), "c.json").monitors[0].spec.grace \
        == 8640.0
    # A weekly job: beyond a checked monitor's day.
    entry = {"type": "push", "name": "weekly", "checkInterval": "7d", "grace": "1d"}
    weekly = parse_config(json.dumps({"monitors": [entry]}), "c.json").monitors[0]
    assert (weekly.interval, weekly.spec.period, weekly.spec.grace) == (60.0, 7 * DAY, DAY)


@pytest.mark.parametrize(("keys", "message"), [
    ({"checkInterval": None}, "monitors[0].checkInterval: is required for a push monitor:"
                              " how often its job pushes (86400 for a nightly job)"),
    ({"name": None}, 'monitors[0]: a push monitor needs a "name" or an "id"'),
    ({"token": "short"}, "monitors[0].token: must be 16 to 128 characters of letters,"
                         " digits, '-', '_', '.' and '~' (it is a part of the push URL)"),
    ({"token": "a/b" * 8}, "monitors[0].token: must be 16 to 128 characters"),
    ({"token": "x" * 129}, "monitors[0].token: must be 16 to 128 characters"),
    ({"token": 12}, "monitors[0].token: must be a string"),
    ({"token": "${NO_SUCH_PUSH_VAR}"}, "monitors[0].token: environment variable"
                                       " NO_SUCH_PUSH_VAR is not set"),
    ({"grace": 0}, "monitors[0].grace: must be a duration greater than 0"),
    ({"grace": "400d"}, "monitors[0].grace: must be at most 366d"),
    ({"checkInterval": "367d"}, "monitors[0].checkInterval: must be at most 366d"),
    ({"checkInterval": 0.5}, "monitors[0].checkInterval: must be at least 1s"),
    ({"tokn": TOKEN}, 'monitors[0].tokn: unknown key (did you mean "token"?)'),
])
def test_bad_keys_are_config_errors(keys, message):
    entry = {"type": "push", "name": "nightly backup", "checkInterval": DAY}
    entry.update(keys)
    entry = {key: value for key, value in entry.items() if value is not None}
    with pytest.raises(ConfigError) as caught:
        parse_config(json.dumps({"monitors": [entry]}), "config.json")
    assert str(caught.value).startswith(f"config.json: {message}")


def test_two_push_monitors_may_not_share_a_token_and_the_error_names_both(monkeypatch):
    monkeypatch.setenv("SHARED_PUSH", TOKEN)
    entries = [{"type": "push", "name": "a", "checkInterval": 60, "token": TOKEN},
               {"type": "tcp", "host": "localhost", "port": 1},
               {"type": "push", "name": "b", "checkInterval": 60, "token": "${SHARED_PUSH}"}]
    with pytest.raises(ConfigError) as caught:
        parse_config(json.dumps({"monitors": entries}), "config.json")
    assert str(caught.value) == ("config.json: monitors[2].token: is the same as"
                                 " monitors[0].token: two push monitors cannot share a token")
    assert TOKEN not in str(caught.value)


# -- the watch on an injected clock -------------------------------------------------------

def test_new_then_up_on_a_push_then_late_after_the_period_and_grace():
    feed = Feed()
    watch = _watch(feed)
    assert _said(_poll(watch, T0)) == [
        (T0, "unknown", "new", "no push yet; expected every 1d + 1h grace")]
    assert _poll(watch, T0 + 10) == []  # nothing changed, a minute has not passed
    feed.push(T0 + 20, message="backup ok")
    [up] = _poll(watch, T0 + 21)
    assert (up.timestamp, up.state, up.reason, up.detail) == (T0 + 20, "up", None,
                                                             "backup ok")
    assert up.mono == -1.0  # dated at its receipt, a second before the poll
    # Within checkInterval + grace: up, said again once a minute.
    assert _poll(watch, T0 + 21 + RESULT_EVERY - 1) == []
    [again] = _poll(watch, T0 + 21 + RESULT_EVERY)
    assert (again.state, again.detail) == ("up", "backup ok")
    deadline = T0 + 20 + DAY + HOUR
    _poll(watch, deadline - 30)
    assert _poll(watch, deadline) == []  # a push received before it may not be read yet
    assert _poll(watch, deadline + SETTLE) == []  # at the deadline: not late yet
    [late] = _poll(watch, deadline + SETTLE + 62)
    assert (late.state, late.reason, late.detail) == (
        "down", "late", "no push for 1d01h01m; expected every 1d + 1h grace")
    assert _poll(watch, deadline + SETTLE + 63) == []
    feed.push(deadline + 100)
    [back] = _poll(watch, deadline + 101)
    assert (back.state, back.reason) == ("up", None)


def test_late_is_said_as_soon_as_the_deadline_passes():
    feed = Feed(Latest(Push("push:nightly backup", T0, "ping", id=1)))
    watch = _watch(feed)
    assert [r.state for r in _poll(watch, T0 + 5)] == ["up"]  # from before the watch
    deadline = T0 + DAY + HOUR
    assert [r.state for r in _poll(watch, deadline + SETTLE)] == ["up"]  # once a minute
    [late] = _poll(watch, deadline + SETTLE + 0.25)
    assert late.reason == "late" and late.timestamp == deadline + SETTLE + 0.25


def test_grace_defers_late():
    feed = Feed(Latest(Push("push:nightly backup", T0, "ping", id=1)))
    watch = _watch(feed, grace=7200)
    _poll(watch, T0 + 1)
    # An hour past the period: in its grace, up (said once a minute).
    assert [r.state for r in _poll(watch, T0 + DAY + HOUR + 60)] == ["up"]
    assert [r.reason for r in _poll(watch, T0 + DAY + 2 * HOUR + 60)] == ["late"]


def test_a_failure_is_down_at_once_with_its_message_and_a_ping_after_it_up():
    feed = Feed()
    watch = _watch(feed)
    _poll(watch, T0)
    feed.push(T0 + 5, "fail", message="disk full\non /backup")
    [failed] = _poll(watch, T0 + 6)
    assert (failed.state, failed.reason, failed.detail) == ("down", "failed",
                                                            "disk full on /backup")
    feed.push(T0 + 7, "fail")
    feed.push(T0 + 8, "ping", status="down")
    assert _said(_poll(watch, T0 + 9)) == [
        (T0 + 7, "down", "failed", "the job reported a failure (/fail)"),
        (T0 + 8, "down", "failed", "the job reported status=down")]
    # Still failed a minute later, said again; up with the next good run.
    assert [r.reason for r in _poll(watch, T0 + 9 + RESULT_EVERY)] == ["failed"]
    feed.push(T0 + 100, "ping", status="up")
    assert [r.state for r in _poll(watch, T0 + 101)] == ["up"]


def test_start_then_ping_measures_the_run_and_a_value_is_a_measurement():
    feed = Feed()
    watch = _watch(feed)
    _poll(watch, T0)
    feed.push(T0 + 10, "start")
    assert _poll(watch, T0 + 11) == []  # a start is no result
    feed.push(T0 + 52.5, "ping", value=1234.5)
    [done] = _poll(watch, T0 + 53)
    assert done.metrics == {"duration": 42500.0, "value": 1234.5}
    # A ping with no start before it since the last run: no duration.
    feed.push(T0 + 60, "ping")
    assert _poll(watch, T0 + 61)[0].metrics == {}
    # A failure after a start is measured too.
    feed.push(T0 + 70, "start")
    feed.push(T0 + 75, "fail")
    assert _poll(watch, T0 + 76)[0].metrics == {"duration": 5000.0}


def test_a_start_not_ended_within_grace_is_late():
    feed = Feed(Latest(Push("push:nightly backup", T0, "ping", id=1)))
    watch = _watch(feed)
    _poll(watch, T0 + 1)
    feed.push(T0 + 30, "start")
    assert _poll(watch, T0 + 31) == []
    # Running, within its grace: up (said once a minute).
    assert [r.state for r in _poll(watch, T0 + 30 + HOUR + SETTLE)] == ["up"]
    [late] = _poll(watch, T0 + 30 + HOUR + SETTLE + 1)
    assert (late.reason, late.detail) == ("late", "started 1h00m01s ago, not ended within"
                                                  " its 1h grace")


def test_a_start_told_at_the_watchs_opening_still_runs():
    feed = Feed(Latest(Push("push:nightly backup", T0, "ping", id=1),
                       Push("push:nightly backup", T0 + 10, "start", id=2)))
    watch = _watch(feed)
    assert [r.reason for r in _poll(watch, T0 + 10 + HOUR + 5)] == ["late"]
    feed.push(T0 + 10 + HOUR + 6)
    [done] = _poll(watch, T0 + 10 + HOUR + 7)
    assert done.state == "up" and done.metrics == {"duration": (HOUR + 6) * 1000}


def test_never_pushed_is_late_after_the_first_period_and_grace():
    watch = _watch(Feed(), checkInterval=600, grace=60)
    _poll(watch, T0)
    assert [r.reason for r in _poll(watch, T0 + 660 + SETTLE)] == ["new"]
    [late] = _poll(watch, T0 + 661 + SETTLE)
    assert late.detail == ("no push since watching began 11m01s ago; expected every 10m"
                           " + 1m grace")


def test_a_flood_makes_at_most_twenty_results_a_poll_the_newest():
    feed = Feed()
    watch = _watch(feed)
    for i in range(50):
        feed.push(T0 + i / 100, message=str(i))
    results = _poll(watch, T0 + 1)
    assert [r.detail for r in results] == [str(i) for i in range(30, 50)]


def test_the_own_token_is_masked_in_a_message(monkeypatch):
    feed = Feed()
    watch = _watch(feed, token=TOKEN)
    feed.push(T0, message=f"called /push/{TOKEN}")
    assert _poll(watch, T0 + 1)[0].detail == "called /push/***"
    watch.close()
    assert feed.closed


# -- generated tokens ---------------------------------------------------------------------

def test_a_generated_token_is_stable_per_id_and_its_key_owner_only(tmp_path):
    db = tmp_path / "monitoring.db"
    key = tokens.load_key(db)
    path = tokens.key_file(db)
    assert path.name == "monitoring.db.push-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tokens.load_key(db) == key  # read again, not made again
    token = tokens.generated(key, "push:nightly backup")
    assert tokens.valid(token) and len(token) == 32
    assert tokens.generated(tokens.load_key(db), "push:nightly backup") == token
    assert tokens.generated(key, "push:weekly") != token
    assert tokens.generated(tokens.load_key(tmp_path / "other.db"), "push:nightly backup") \
        != token
    assert sorted(p.name for p in tmp_path.iterdir()) == ["monitoring.db.push-key",
                                                          "other.db.push-key"]


def test_processes_making_the_key_at_once_agree(tmp_path):
    db = tmp_path / "m.db"
    code = ("import sys\nfrom monitor.checks.push import tokens\n"
            "print(tokens.load_key(sys.argv[1]).hex())")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(db)], stdout=subprocess.PIPE,
                              text=True, cwd=os.getcwd()) for _ in range(6)]
    keys = {proc.communicate(timeout=60)[0].strip() for proc in procs}
    assert len(keys) == 1 and keys == {tokens.load_key(db).hex()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.db.push-key"]  # no leftovers


def test_a_damaged_key_file_is_an_error_naming_it(tmp_path):
    db = tmp_path / "m.db"
    tokens.key_file(db).write_text("not hex")
    with pytest.raises(tokens.PushKeyError) as caught:
        tokens.load_key(db)
    assert str(caught.value) == (f"{tokens.key_file(db)}: not a push-token key (delete it"
                                 " to make a new one; every generated push token then"
                                 " changes)")
