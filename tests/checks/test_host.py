"""The host kinds (process, cpu, memory, disk, load) on the real machine: processes started
and stopped by the tests, a small tmpfs filled by the tests inside a mount namespace of
its own (so nothing is mounted on the host), the real CPU, memory and load. Only what the
tests cannot set (the machine's load average, a filesystem that hangs) is injected."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import psutil
import pytest

from monitor.checks import registry
from monitor.checks.host import base, cpu, disk, load, process
from monitor.config import parse_config
from monitor.core.deadline import Deadline
from monitor.core.errors import ConfigError
from tests.support.app import APP, ROOT, blocks, run_app, start, stop, wait_for
from tests.support.db import query

MiB = 1024 * 1024


def monitors(*entries: dict, **top):
    return parse_config(json.dumps({"websites": list(entries), **top})).monitors


def one(entry: dict):
    return monitors(entry)[0]


def deadline(seconds: float = 2.0) -> Deadline:
    return Deadline(time.monotonic() + seconds, seconds)


def run(monitor, seconds: float | None = None):
    return registry.get(monitor.kind).run(monitor, deadline(seconds or monitor.timeout))


def error(entry: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        monitors(entry)
    return str(caught.value)


# --- config ------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["cpu", "memory"])
@pytest.mark.parametrize(("keys", "message"), [
    ({"maxPercent": "90"}, "websites[0].maxPercent: must be a number greater than 0"),
    ({"maxPercent": 0}, "websites[0].maxPercent: must be a number greater than 0"),
    ({"maxPercent": 100.5}, "websites[0].maxPercent: must be at most 100"),
    ({"maxPercent": True}, "websites[0].maxPercent: must be a number greater than 0"),
    ({"warnPercent": -1}, "websites[0].warnPercent: must be a number greater than 0"),
    ({"warnPercent": 101}, "websites[0].warnPercent: must be at most 100"),
    ({"warnPercent": 95}, "websites[0].warnPercent: warnPercent (95) must be below"
                          " maxPercent (90, the default)"),
    ({"warnPercent": 80, "maxPercent": 80}, "websites[0].warnPercent: warnPercent (80) must"
                                            " be below maxPercent (80)"),
    ({"maxpercent": 80}, 'websites[0].maxpercent: unknown key (did you mean "maxPercent"?)'),
    ({"path": "/"}, "websites[0].path: unknown key"),
    ({"max": 2}, "websites[0].max: unknown key"),
])
def test_percent_keys_are_validated(kind, keys, message):
    assert error({"type": kind, **keys}) == f"config.json: {message}"


@pytest.mark.parametrize(("keys", "message"), [
    ({}, "websites[0].path: is required"),
    ({"path": 5}, "websites[0].path: must be a non-empty string"),
    ({"path": " "}, "websites[0].path: must be a non-empty string"),
    ({"path": "data/x"}, "websites[0].path: must be an absolute path"),
    ({"path": "/a\nb"}, "websites[0].path: must not contain control characters or unpaired"
                        " surrogates"),
    ({"path": "/", "maxPercent": 0}, "websites[0].maxPercent: must be a number greater than 0"),
    ({"path": "/", "warnPercent": 90}, "websites[0].warnPercent: warnPercent (90) must be"
                                       " below maxPercent (90, the default)"),
    ({"path": "/", "min": 1}, "websites[0].min: unknown key"),
])
def test_disk_keys_are_validated(keys, message):
    assert error({"type": "disk", **keys}) == f"config.json: {message}"


@pytest.mark.parametrize(("keys", "message"), [
    ({"max": 0}, "websites[0].max: must be a number greater than 0"),
    ({"max": "2"}, "websites[0].max: must be a number greater than 0"),
    ({"max": 1001}, "websites[0].max: must be at most 1000"),
    ({"warn": 0}, "websites[0].warn: must be a number greater than 0"),
    ({"warn": 2}, "websites[0].warn: warn (2) must be below max (1, the default)"),
    ({"warn": 3, "max": 2.5}, "websites[0].warn: warn (3) must be below max (2.5)"),
    ({"maxPercent": 50}, "websites[0].maxPercent: unknown key"),
    ({"warnPercent": 50}, "websites[0].warnPercent: unknown key"),
])
def test_load_keys_are_validated(keys, message):
    assert error({"type": "load", **keys}) == f"config.json: {message}"


@pytest.mark.parametrize(("keys", "message"), [
    ({}, "websites[0].process: is required (the exact process name), or match (a regular"
         " expression on the command line)"),
    ({"process": "nginx", "match": "nginx"}, "websites[0].match: give either process (the"
                                             " exact process name) or match (a regular"
                                             " expression), not both"),
    ({"process": ""}, "websites[0].process: must be a non-empty string"),
    ({"process": 7, "name": "web"}, "websites[0].process: must be a non-empty string"),
    # The old spelling: `name` alone is the process name, validated as such.
    ({"name": ""}, "websites[0].name: must be a non-empty string"),
    ({"name": 7}, "websites[0].name: must be a non-empty string"),
    ({"match": ""}, "websites[0].match: must be a non-empty string (a regular expression)"),
    ({"match": "(nginx"}, "websites[0].match: is not a valid regular expression: missing ),"
                          " unterminated subpattern at position 0"),
    ({"match": "a\tb"}, "websites[0].match: must not contain control characters"),
    ({"name": "x", "min": -1}, "websites[0].min: must be a whole number from 0 to 1000000"),
    ({"name": "x", "min": 1.0}, "websites[0].min: must be a whole number from 0 to 1000000"),
    ({"name": "x", "max": True}, "websites[0].max: must be a whole number from 0 to 1000000"),
    ({"name": "x", "max": 1000001}, "websites[0].max: must be a whole number from 0 to"
                                    " 1000000"),
    ({"name": "x", "min": 3, "max": 2}, "websites[0].min: min (3) must not be above max (2)"),
    ({"name": "x", "warnPercent": 50}, "websites[0].warnPercent: unknown key"),
    ({"name": "x", "path": "/"}, 'websites[0].path: unknown key (did you mean "match"?)'),
])
def test_process_keys_are_validated(keys, message):
    assert error({"type": "process", **keys}) == f"config.json: {message}"


def test_targets_ids_and_defaults():
    found = monitors(
        {"type": "cpu"},
        {"type": "memory", "maxPercent": 80, "warnPercent": 70.5},
        {"type": "disk", "path": "/var//lib/"},
        {"type": "load", "warn": 0.7},
        {"type": "process", "name": "nginx"},
        {"type": "process", "match": r"gunicorn: worker \d+", "min": 2, "max": 8},
        {"type": "process", "name": "cron", "max": 0, "id": "no cron"},
    )
    assert [(m.id, m.target, m.name) for m in found] == [
        ("cpu", "cpu", ""), ("memory", "memory", ""), ("disk:/var/lib", "disk:/var/lib", ""),
        ("load", "load", ""), ("process:nginx", "process:nginx", "nginx"),
        (r"process~gunicorn: worker \d+", r"process~gunicorn: worker \d+", ""),
        ("no cron", "process:cron", "cron")]
    assert found[0].spec == base.Limit(90.0, None)
    assert found[1].spec == base.Limit(80.0, 70.5)
    assert found[2].spec.path == "/var/lib"
    assert found[3].spec == base.Limit(1.0, 0.7, "max", "warn")
    assert (found[4].spec.least, found[4].spec.most) == (1, None)
    assert (found[5].spec.least, found[5].spec.most) == (2, 8)
    assert (found[6].spec.least, found[6].spec.most) == (0, 0)  # max 0 alone: must not run
    for monitor in found:
        kind = registry.get(monitor.kind)
        assert not kind.network and kind.plugin is None and kind.debug is not None


def test_a_process_name_is_only_the_label_beside_process_or_match():
    config = parse_config(json.dumps({"monitors": [
        {"type": "process", "process": "nginx"},
        {"type": "process", "process": "nginx: worker", "name": "web workers", "min": 4},
        {"type": "process", "match": r"gunicorn: worker \d+", "name": "app"},
    ]}))
    assert [(m.id, m.target, m.name, m.spec.name, getattr(m.spec.match, "pattern", None))
            for m in config.monitors] == [
        ("process:nginx", "process:nginx", "", "nginx", None),
        ("process:nginx: worker", "process:nginx: worker", "web workers", "nginx: worker",
         None),
        (r"process~gunicorn: worker \d+", r"process~gunicorn: worker \d+", "app", None,
         r"gunicorn: worker \d+")]
    assert config.warnings == ()


def test_the_old_process_spelling_matches_its_name_with_one_warning():
    # Before `process`, `name` alone was both the process name and the label: still so,
    # with the id that keys the monitor's history in the database.
    config = parse_config(json.dumps({"websites": [
        {"type": "cpu"}, {"type": "process", "name": "sshd", "min": 1},
        {"type": "process", "match": "cron", "name": "cron jobs"}]}))
    old = config.monitors[1]
    assert (old.id, old.target, old.name, old.spec.name) == (
        "process:sshd", "process:sshd", "sshd", "sshd")
    assert old.id == one({"type": "process", "process": "sshd", "name": "ssh"}).id
    assert config.warnings == (
        'config.json: websites[1]: process: "name" as the process name to match is'
        ' deprecated; put it in "process" ("name" is then only the label)',)


def test_a_disk_path_need_not_exist_when_the_config_is_read():
    assert one({"type": "disk", "path": "/mnt/not-mounted-yet"}).id == "disk:/mnt/not-mounted-yet"


def test_two_monitors_of_one_host_value_need_ids():
    with pytest.raises(ConfigError) as caught:
        monitors({"type": "cpu"}, {"type": "cpu", "warnPercent": 50})
    assert str(caught.value) == ('config.json: websites[1].type: duplicate of websites[0].type:'
                                 ' both make the id "cpu"; give one of them an "id"')
    assert len(monitors({"type": "cpu"}, {"type": "cpu", "id": "cpu warn"})) == 2


# --- thresholds: the edges ------------------------------------------------------------

def test_a_limit_is_the_highest_value_still_fine():
    bound = base.Limit(90.0, 50.0)
    assert bound.judge(0.0) is None
    assert bound.judge(50.0) is None
    assert bound.judge(50.1) == ("warning", "> warnPercent 50")
    assert bound.judge(90.0) == ("warning", "> warnPercent 50")
    assert bound.judge(90.1) == ("down", "> maxPercent 90")
    assert base.Limit(90.0).judge(89.9) is None
    assert base.Limit(2.0, 1.5, "max", "warn").judge(1.51) == ("warning", "> warn 1.5")


# --- cpu ---------------------------------------------------------------------------------

T0 = {"user": 100.0, "nice": 0.0, "system": 50.0, "idle": 800.0, "iowait": 50.0,
      "irq": 0.0, "softirq": 0.0, "steal": 0.0, "guest": 10.0, "guest_nice": 0.0}


def later(**more: float) -> dict[str, float]:
    return {name: value + more.get(name, 0.0) for name, value in T0.items()}


def test_busy_percent_of_two_samples():
    # 100 s of CPU time passed: 30 user, 10 system, 50 idle, 10 iowait -> 40% busy.
    assert cpu.busy_percent(T0, later(user=30, system=10, idle=50, iowait=10)) == 40.0
    # Guest time is counted in user already (Linux): not twice.
    assert cpu.busy_percent(T0, later(user=30, guest=30, idle=70)) == 30.0
    assert cpu.busy_percent(T0, later(steal=1, idle=2)) == 33.3
    assert cpu.busy_percent(T0, later(idle=10)) == 0.0
    assert cpu.busy_percent(T0, T0) == 0.0  # no time passed
    assert cpu.busy_percent(later(user=5), T0) == 0.0  # counters went backwards
    assert cpu.busy_percent(T0, later(user=10)) == 100.0
    assert cpu.shares(T0, later(user=30, idle=70))["user"] == 30.0


@contextmanager
def cpu_sample(monitor, age: float, **less: float):
    """Plant `monitor`'s previous sample: the CPU times of now, less `less` seconds of each
    counter, taken `age` seconds ago (the busy share of that past interval, chosen)."""
    now = psutil.cpu_times()._asdict()
    planted = {name: value - less.get(name, 0.0) for name, value in now.items()}
    cpu._samples[monitor.id] = (time.monotonic() - age, planted)
    try:
        yield
    finally:
        cpu._samples.pop(monitor.id, None)


@pytest.mark.parametrize(("keys", "state", "detail"), [
    ({"maxPercent": 50}, "up", ""),
    ({"maxPercent": 50, "warnPercent": 25}, "warning", r"cpu (29|30)\.\d% busy > warnPercent 25"),
    ({"maxPercent": 20}, "down", r"cpu (29|30)\.\d% busy > maxPercent 20"),
])
def test_cpu_averages_since_the_previous_check(keys, state, detail):
    monitor = one({"type": "cpu", "id": f"cpu {uuid.uuid4()}", "checkInterval": 5, **keys})
    # The previous check was 2 s ago; since then 30 s of 100 were busy.
    with cpu_sample(monitor, 2.0, user=30.0, idle=70.0):
        result = run(monitor)
    assert (result.state, result.code) == (state, None)
    assert re.fullmatch(detail, result.detail)
    assert result.reason == (None if state == "up" else "threshold")
    assert set(result.metrics) == {"value"} and 29.5 <= result.metrics["value"] <= 30.5
    assert result.response_ms < 100  # no window of its own: the interval since the last
    assert cpu._samples.get(monitor.id) is None  # (the fixture removed the new sample)


def test_a_first_cpu_check_measures_a_window_within_its_timeout():
    monitor = one({"type": "cpu", "id": f"cpu {uuid.uuid4()}", "maxPercent": 100,
                   "checkInterval": 5, "timeout": 0.6})
    try:
        started = time.monotonic()
        first = run(monitor)
        elapsed = time.monotonic() - started
        assert 0.29 <= elapsed < 0.6  # half the timeout, not FIRST_WINDOW (1 s)
        assert first.state == "up" and 0.0 <= first.metrics["value"] <= 100.0
        assert monitor.id in cpu._samples
        # A check right after cannot average over so short a span: it waits until
        # MIN_SPAN (0.2 s) after the previous one, not a whole window.
        started = time.monotonic()
        _, lines = registry.get("cpu").debug(monitor)
        assert 0.15 <= time.monotonic() - started < 0.29
        assert re.fullmatch(r"cpu times of \d+ core\(s\) over 0\.2\d s, since the previous"
                            " check", lines[0])
    finally:
        cpu._samples.pop(monitor.id, None)


def test_a_stale_cpu_sample_is_not_the_previous_check():
    monitor = one({"type": "cpu", "id": f"cpu {uuid.uuid4()}", "maxPercent": 10,
                   "checkInterval": 1, "timeout": 0.2})
    # 100% busy 10 s ago, but the interval is 1 s: that sample is not this check's interval.
    with cpu_sample(monitor, 10.0, user=1000.0):
        result = run(monitor)
    # It measured a window of its own (with the sample it would not have waited at all).
    assert result.response_ms >= 90


def test_cpu_samples_are_per_monitor():
    first = one({"type": "cpu", "id": f"cpu {uuid.uuid4()}", "maxPercent": 20,
                 "checkInterval": 5})
    other = one({"type": "cpu", "id": f"cpu {uuid.uuid4()}", "maxPercent": 20,
                 "checkInterval": 5, "timeout": 0.2})
    with cpu_sample(first, 2.0, user=90.0, idle=10.0):
        mine = run(first)
        result = run(other)  # no sample of its own: it waits a window of its own
    cpu._samples.pop(other.id, None)
    assert mine.state == "down" and mine.response_ms < 50
    assert result.response_ms >= 90


def test_a_cpu_check_returns_at_once_when_the_monitor_stops():
    monitor = one({"type": "cpu", "id": f"cpu {uuid.uuid4()}", "timeout": 5})
    stopping = deadline(5.0)
    stopping.expire(abort=True)
    started = time.monotonic()
    result = registry.get("cpu").run(monitor, stopping)
    assert time.monotonic() - started < 0.1
    assert (result.available, result.reason) == (False, "timeout")


def test_cpu_trace():
    monitor = one({"type": "cpu", "id": f"cpu {uuid.uuid4()}", "maxPercent": 20,
                   "checkInterval": 5})
    with cpu_sample(monitor, 2.0, user=30.0, system=10.0, idle=60.0):
        result, lines = registry.get("cpu").debug(monitor)
    assert result.state == "down"
    assert re.fullmatch(r"cpu times of \d+ core\(s\) over 2\.\d\d s, since the previous check",
                        lines[0])
    assert re.fullmatch(r"  user \d\d\.\d%, system \d+\.\d%.*idle \d\d\.\d%.*", lines[1])
    assert re.fullmatch(r"busy: (39|40)\.\d% \(all but idle and iowait\)", lines[2])
    assert re.fullmatch(r"verdict: down: threshold \(cpu (39|40)\.\d% busy > maxPercent 20\)",
                        lines[3])
    assert re.fullmatch(r"response time: \d+\.\d ms", lines[4])
    assert len(lines) == 5


# --- memory ------------------------------------------------------------------------------

@pytest.mark.parametrize(("keys", "state", "detail"), [
    ({"maxPercent": 100}, "up", None),
    ({"maxPercent": 100, "warnPercent": 0.01}, "warning",
     r"memory \d+\.\d% used > warnPercent 0\.01"),
    ({"maxPercent": 0.01}, "down", r"memory \d+\.\d% used > maxPercent 0\.01"),
])
def test_memory_of_this_machine(keys, state, detail):
    result = run(one({"type": "memory", **keys}))
    truth = psutil.virtual_memory()
    assert (result.state, result.code) == (state, None)
    assert result.detail == "" if detail is None else re.fullmatch(detail, result.detail)
    assert set(result.metrics) == {"value", "available_mb"}
    assert abs(result.metrics["value"] - truth.percent) < 2
    assert abs(result.metrics["available_mb"] - truth.available / MiB) < 0.02 * truth.total / MiB


def test_memory_trace():
    result, lines = registry.get("memory").debug(one({"type": "memory", "maxPercent": 100}))
    assert result.state == "up"
    assert re.fullmatch(r"memory: total \d+ MiB, available \d+ MiB", lines[0])
    assert re.fullmatch(r"used: \d+\.\d% \(total - available, of total\)", lines[-3])
    assert lines[-2] == "verdict: up"
    assert re.fullmatch(r"response time: \d+\.\d ms", lines[-1])


# --- disk: a small tmpfs in a mount namespace of its own -------------------------------

# Runs inside the namespace, where a 4 MiB tmpfs is mounted on argv[1]: for each size,
# writes a file of that many bytes in it and checks the disk monitor; prints the results.
FILLER = r'''
import json, os, sys
from monitor.checks.execute import run_check
from monitor.checks.watchdog import Watchdog
from monitor.config import parse_config

directory, sizes = sys.argv[1], json.loads(sys.argv[2])
monitor = parse_config(json.dumps({"websites": [
    {"type": "disk", "path": directory, "maxPercent": 90, "warnPercent": 50}]})).monitors[0]
dog = Watchdog()
rows = []
for size in sizes:
    with open(os.path.join(directory, "fill"), "wb") as file:
        file.write(b"x" * size)
    result = run_check(monitor, dog)
    rows.append([size, result.state, result.reason, result.detail, dict(result.metrics)])
dog.stop()
print(json.dumps(rows))
'''


def in_tmpfs(directory: Path, *command: str, fill: int = 0) -> subprocess.CompletedProcess:
    """Run `command` in a mount namespace of its own, where a 4 MiB tmpfs is mounted on
    `directory` (holding a file of `fill` bytes): the host never sees the mount."""
    script = ('mount -t tmpfs -o size=4m tmpfs "$0"\n'
              f'head -c {fill} /dev/zero > "$0/fill"\n'
              'exec "$@"')
    return subprocess.run(["unshare", "-m", "sh", "-ec", script, str(directory), *command],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)


BLOCK = 4096  # the tmpfs's block: 4 MiB is 1024 of them


def test_disk_fills_up_warns_then_fails(tmp_path):
    sizes = [0, 2 * MiB, 2 * MiB + 1, 922 * BLOCK, 923 * BLOCK, 4 * MiB, 1]
    done = in_tmpfs(tmp_path, sys.executable, "-c", FILLER, str(tmp_path), json.dumps(sizes))
    assert done.returncode == 0, done.stderr
    rows = {size: row for size, *row in json.loads(done.stdout)}
    where = f"disk {tmp_path}"
    assert rows[0] == ["up", None, "", {"value": 0.0, "free_mb": 4.0}]
    # 512 of 1024 blocks: 50.0% is warnPercent itself, still fine; one byte more takes a
    # block more: 50.1%, above it.
    assert rows[2 * MiB] == ["up", None, "", {"value": 50.0, "free_mb": 2.0}]
    assert rows[2 * MiB + 1] == ["warning", "threshold", f"{where} 50.1% used > warnPercent 50",
                                 {"value": 50.1, "free_mb": 2.0}]
    # 922 blocks are 90.04%: 90.0% as shown (and as df shows), not above maxPercent 90.
    assert rows[922 * BLOCK][:3] == ["warning", "threshold",
                                     f"{where} 90.0% used > warnPercent 50"]
    assert rows[923 * BLOCK][:3] == ["down", "threshold", f"{where} 90.1% used > maxPercent 90"]
    assert rows[4 * MiB] == ["down", "threshold", f"{where} 100.0% used > maxPercent 90",
                             {"value": 100.0, "free_mb": 0.0}]
    assert rows[1][:2] == ["up", None]  # emptied again
    assert not os.path.ismount(tmp_path) and not any(tmp_path.iterdir())  # nothing leaked


def test_disk_path_missing_is_down_with_reason_path(tmp_path):
    monitor = one({"type": "disk", "path": str(tmp_path / "not-mounted")})
    result = run(monitor)
    assert (result.state, result.reason, result.code) == ("down", "path", None)
    assert result.detail == f"disk {tmp_path}/not-mounted: no such file or directory"
    assert result.metrics == {}
    (tmp_path / "not-mounted").mkdir()  # mounted later: up, no restart needed
    assert run(monitor).state == "up"


def test_a_long_path_makes_a_detail_of_at_most_200_characters(tmp_path):
    # Every kind's detail is one short printable line (monitor/checks/trace.py).
    where = tmp_path / ("deep-" * 60)
    result = run(one({"type": "disk", "path": str(where)}))
    assert (result.state, result.reason) == ("down", "path")
    assert len(result.detail) == 200 and result.detail == f"disk {where}"[:200]


def test_a_hung_filesystem_times_out_and_is_not_asked_twice(tmp_path, monkeypatch):
    # A network mount that stopped answering blocks statvfs in the kernel: played by a
    # disk_usage that blocks until released (the one edge these tests cannot reach).
    release, calls = threading.Event(), []
    real = psutil.disk_usage

    def hanging(path):
        calls.append(path)
        release.wait(10)
        return real(path)

    monkeypatch.setattr(disk.psutil, "disk_usage", hanging)
    monitor = one({"type": "disk", "path": str(tmp_path), "timeout": 0.2})
    try:
        for _ in range(2):
            started = time.monotonic()
            result = run(monitor)
            assert time.monotonic() - started < 0.5
            assert (result.state, result.reason) == ("down", "timeout")
            assert result.detail == f"disk {tmp_path}: no answer from the filesystem within 0.2 s"
        assert calls == [str(tmp_path)]  # the second check waited on the first's call
    finally:
        release.set()
    wait_for(lambda: disk._calls[str(tmp_path)].done.is_set(), 5, "the hung call to end")
    assert run(monitor).state == "up"  # answering again: a fresh call
    assert calls == [str(tmp_path)] * 2


def test_disk_trace(tmp_path):
    done = in_tmpfs(tmp_path, sys.executable, "-c",
                    "import json, sys\n"
                    "from monitor.checks import registry\n"
                    "from monitor.config import parse_config\n"
                    "m = parse_config(json.dumps({'websites': [{'type': 'disk', 'path':"
                    " sys.argv[1], 'maxPercent': 70}]})).monitors[0]\n"
                    "print(json.dumps(registry.get('disk').debug(m)[1][:-1]))",
                    str(tmp_path), fill=3 * MiB)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        f"filesystem of {tmp_path}: total 4.0 MiB, used 3.0 MiB, free 1.0 MiB (to"
        " unprivileged users)",
        "used: 75.0% (used, of used + free: as df shows)",
        f"verdict: down: threshold (disk {tmp_path} 75.0% used > maxPercent 70)"]


# --- load --------------------------------------------------------------------------------

def test_load_per_core():
    assert load.per_core(3.0, 2) == 1.5
    assert load.per_core(0.333, 1) == 0.33
    assert load.per_core(2.0, None) == 2.0  # cores unknown: one


def test_load_of_this_machine():
    result = run(one({"type": "load", "max": 1000}))
    load1 = os.getloadavg()[0]
    assert (result.state, result.code, result.detail) == ("up", None, "")
    assert set(result.metrics) == {"value"}
    assert abs(result.metrics["value"] - load1 / psutil.cpu_count()) < 0.5


@pytest.mark.parametrize(("load1", "state", "detail"), [
    (2.0, "up", ""),  # 1.0 per core: warn itself is fine
    (2.02, "warning", "load 1.01 per core (2.02 on 2 cores) > warn 1"),
    (3.0, "warning", "load 1.50 per core (3.00 on 2 cores) > warn 1"),  # max itself
    (3.02, "down", "load 1.51 per core (3.02 on 2 cores) > max 1.5"),
])
def test_load_thresholds(monkeypatch, load1, state, detail):
    # The machine's load cannot be set by a test (it is the whole machine's): injected.
    monkeypatch.setattr(load.os, "getloadavg", lambda: (load1, 0.5, 0.25))
    monkeypatch.setattr(load.psutil, "cpu_count", lambda: 2)
    monitor = one({"type": "load", "max": 1.5, "warn": 1})
    result = run(monitor)
    assert (result.state, result.detail) == (state, detail)
    assert result.metrics == {"value": round(load1 / 2, 2)}
    if state != "up":
        assert result.reason == "threshold"
    _, lines = registry.get("load").debug(monitor)
    assert lines[:2] == [f"load average: {load1:.2f} (1 min), 0.50 (5 min), 0.25 (15 min)",
                         f"per core: {load1 / 2:.2f} (1-minute load over 2 logical core(s))"]


def test_a_load_average_the_system_cannot_give_is_other(monkeypatch):
    # os.getloadavg raises when the C library cannot read it (no /proc): injected.
    def unobtainable():
        raise OSError("Load averages are unobtainable")

    monkeypatch.setattr(load.os, "getloadavg", unobtainable)
    monitor = one({"type": "load"})
    result = run(monitor)
    assert (result.state, result.reason, result.code, result.detail, dict(result.metrics)) == (
        "down", "other", None, "load average unobtainable: Load averages are unobtainable", {})
    _, lines = registry.get("load").debug(monitor)
    assert lines[0] == ("verdict: down: other (load average unobtainable: Load averages are"
                        " unobtainable)")


# --- process: real processes started and stopped here -----------------------------------

@contextmanager
def processes(argv: list[str], count: int = 1):
    """`count` processes of `argv` (argv[0] "py": this Python, by that name), killed and
    reaped at the end. Popen returns once the program is executed: its command line is
    already the one given."""
    executable = sys.executable if argv[0] == "py" else None
    procs = [subprocess.Popen(argv, executable=executable) for _ in range(count)]
    try:
        yield procs
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


@pytest.fixture()
def sleeper(tmp_path) -> tuple[str, str]:
    """A copy of sleep under a name no other process has: (its name, its path)."""
    name = f"hk-{uuid.uuid4().hex[:8]}"
    path = tmp_path / name
    shutil.copy(shutil.which("sleep"), path)
    return name, str(path)


def test_process_by_name_counts_the_running_ones(sleeper):
    name, path = sleeper
    monitor = one({"type": "process", "name": name, "max": 2})
    result = run(monitor)
    assert (result.state, result.reason, result.detail) == ("down", "process",
                                                            f"{name}: 0 running, min 1")
    assert result.metrics == {"value": 0.0} and result.code is None
    with processes([path, "60"]):
        result = run(monitor)
        assert (result.state, result.detail, result.metrics) == ("up", "", {"value": 1.0})
        with processes([path, "60"], 2):
            result = run(monitor)
            assert (result.state, result.reason, result.detail) == (
                "down", "process", f"{name}: 3 running, max 2")
            assert result.metrics == {"value": 3.0}
        assert run(monitor).metrics == {"value": 1.0}  # the two stopped
    assert run(monitor).detail == f"{name}: 0 running, min 1"


def test_a_process_that_must_not_run(sleeper):
    name, path = sleeper
    monitor = one({"type": "process", "name": name, "max": 0})
    assert run(monitor).state == "up"
    with processes([path, "60"]):
        assert run(monitor).detail == f"{name}: 1 running, max 0"


def test_process_by_command_line(sleeper):
    _, path = sleeper
    seconds = f"{time.time() % 1000:.6f}"  # an argument no other command line has
    monitor = one({"type": "process", "match": rf"hk-\w+ {re.escape(seconds)}$", "min": 2})
    with processes([path, seconds], 2):
        assert run(monitor).state == "up"
        with processes(["sleep", seconds]):  # the same argument, another program
            assert run(monitor).metrics == {"value": 2.0}
    result = run(monitor)
    assert result.detail == rf"match /hk-\w+ {re.escape(seconds)}$/: 0 running, min 2"


def test_a_zombie_is_not_running(sleeper):
    name, path = sleeper
    monitor = one({"type": "process", "name": name})
    proc = subprocess.Popen([path, "60"])
    try:
        assert run(monitor).state == "up"
        os.kill(proc.pid, signal.SIGKILL)  # dead, and not reaped yet: a zombie
        wait_for(lambda: psutil.Process(proc.pid).status() == psutil.STATUS_ZOMBIE, 5,
                 "the process to be a zombie")
        assert run(monitor).detail == f"{name}: 0 running, min 1"
    finally:
        proc.kill()
        proc.wait()


def test_the_monitor_does_not_count_itself():
    # A check whose own command line matches: it runs in a process whose argv holds the
    # pattern's text; that process does not count, another one with the same does.
    marker = f"marker-{uuid.uuid4().hex}"
    code = ("import json, sys, time\n"
            "from monitor.checks import registry\n"
            "from monitor.core.deadline import Deadline\n"
            "from monitor.config import parse_config\n"
            "m = parse_config(json.dumps({'websites': [{'type': 'process', 'match':"
            " sys.argv[1], 'min': 0}]})).monitors[0]\n"
            "r = registry.get('process').run(m, Deadline(time.monotonic() + 5, 5))\n"
            "print(r.metrics['value'])\n")
    done = subprocess.run([sys.executable, "-c", code, marker], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert (done.returncode, done.stdout.strip()) == (0, "0.0"), done.stderr
    with processes(["py", "-c", "import time; time.sleep(60)", marker]):
        done = subprocess.run([sys.executable, "-c", code, marker], capture_output=True,
                              text=True, timeout=60, cwd=ROOT)
    assert (done.returncode, done.stdout.strip()) == (0, "1.0"), done.stderr


@pytest.mark.parametrize(("argv", "probe"), [
    (["/usr/bin/python3", "-m", "monitor.run.probes", "5"], True),
    (["python", "-X", "dev", "-m", "monitor.run.probes", "7"], True),
    (["python", "monitoringApp.py", "-m", "-c", "config.json"], False),
    (["python", "-c", "print('-m monitor.run.probes')"], False),
    (["monitor.run.probes", "-m"], False),
    ([], False),
    (None, False),
])
def test_a_probe_process_is_known_by_its_command_line(argv, probe):
    assert process.is_probe(argv) is probe


def test_the_head_of_the_monitor_is_the_parent_of_a_probe_process():
    probe = ["python", "-m", "monitor.run.probes", "5"]
    assert process.monitor_head(probe, pid=200, ppid=100) == 100
    assert process.monitor_head(["python", "monitoringApp.py", "-m"], pid=100, ppid=50) == 100
    # A probe whose monitor is gone (reparented to init): not init.
    assert process.monitor_head(probe, pid=200, ppid=1) == 200
    assert process.monitor_head() == os.getpid()  # pytest is no probe process


# Run in a PID namespace of its own, so that only this monitor's processes are seen: a
# worker whose command line holds the marker, and the monitor under -m with two probe
# processes; the monitor's config path holds the marker too. Paths come from the
# environment, so that this script's own command line (pid 1 here) does not hold them.
IN_NAMESPACE = """
"$PY" -c "import time; time.sleep(30)" "$MARK" &
worker=$!
"$PY" "$APP" -m -s -c "$CFG" -db "$DB" &
monitor=$!
sleep 4
kill -INT $monitor
wait $monitor
kill $worker
"""


def test_probe_processes_do_not_count_the_monitor_s_processes(tmp_path):
    marker = f"pm-{uuid.uuid4().hex[:12]}"
    folder = tmp_path / marker
    folder.mkdir()
    config, db = folder / "config.json", tmp_path / "m.db"
    # Matches the worker, the monitor's main process (its config path) and its probe
    # processes (`-m monitor.run.probes`): only the worker counts.
    config.write_text(json.dumps({"processes": 2, "websites": [
        {"type": "process", "id": "workers", "match": f"{marker}|monitor\\.run\\.probes",
         "min": 1, "max": 1, "checkInterval": 0.25}]}))
    # PYTHONPATH: the probe processes import this checkout's code, whatever is installed
    # (monitor/run/probes.py puts the package's own folder there, not the one above it).
    env = {**os.environ, "PY": sys.executable, "APP": APP, "CFG": str(config), "DB": str(db),
           "MARK": marker, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(["unshare", "-p", "-f", "--mount-proc", "sh", "-c", IN_NAMESPACE],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    rows = query(db, "SELECT available, reason, detail FROM website_monitoring WHERE"
                     " monitor = 'workers'")
    assert len(rows) >= 3, done.stderr
    assert set(rows) == {(1, None, None)}


def test_process_listing_is_bounded_by_the_deadline(sleeper):
    monitor = one({"type": "process", "name": sleeper[0], "timeout": 0.5})
    late = Deadline(time.monotonic() - 0.01, 0.5)  # a machine too slow to list them in time
    result = registry.get("process").run(monitor, late)
    assert (result.available, result.reason) == (False, "timeout")
    assert result.detail == f"{sleeper[0]}: 0 processes listed within 0.5 s, not all"


def test_process_trace_lists_the_matches_with_secrets_masked():
    seconds = f"{time.time() % 1000:.6f}"
    monitor = one({"type": "process", "match": re.escape(seconds), "max": 1})
    argv = ["py", "-c", "import time; time.sleep(60)", seconds, "--password=hunter2",
            "--token", "tok-secret", "https://u:pw-secret@example.com/"]
    with processes(argv, 2) as procs:
        names = {psutil.Process(p.pid).name() for p in procs}
        result, lines = registry.get("process").debug(monitor)
    assert result.state == "down"
    assert re.fullmatch(rf"\d+ processes listed, 2 with a command line matching"
                        rf" /{re.escape(re.escape(seconds))}/ \(zombies and the monitor itself"
                        r" not counted\)", lines[0])
    shown = (f"py -c import time; time.sleep(60) {seconds} --password=*** --token ***"
             " https://u:***@example.com/")
    (name,) = names
    assert sorted(lines[1:3]) == sorted(f"  pid {p.pid} {name}: {shown}" for p in procs)
    assert lines[3:5] == ["running: 2 (min 1, max 1)",
                          f"verdict: down: process (match /{re.escape(seconds)}/: 2 running,"
                          " max 1)"]
    assert re.fullmatch(r"response time: \d+\.\d ms", lines[5]) and len(lines) == 6
    assert not {"hunter2", "tok-secret", "pw-secret"} & set(re.split(r"[ :@/]", " ".join(lines)))
    assert "secret" not in "\n".join(lines)


def test_shown_command_is_shortened():
    assert process.shown_command(None) == ""
    assert process.shown_command(["nginx", "-g", "daemon off;"]) == "nginx -g daemon off;"
    long = process.shown_command(["x" * 200])
    assert len(long) == process.SHOWN_CHARS and long.endswith("...")
    assert process.shown_command(["app", "--api-key", "k1", "--keyword", "k2"]) == (
        "app --api-key *** --keyword k2")
    assert process.shown_command(["app", "--db=postgres://u:pw@db/x", "SECRET_KEY=abc",
                                  "http://h/?token=t0k&page=2", "http://[::1"]) == (
        "app --db=postgres://u:***@db/x SECRET_KEY=*** http://h/?token=***&page=2 ***")


# --- check NAME, and -m recording the values -------------------------------------------

def check_app(args: list[str]) -> tuple[int, str, str]:
    done = run_app(["check", *args], ROOT)
    return done.returncode, done.stdout, done.stderr


def test_check_prints_each_measured_value(tmp_path, sleeper):
    name, path = sleeper
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"websites": [
        {"type": "cpu", "maxPercent": 100, "timeout": 0.5},
        {"type": "memory", "maxPercent": 100},
        {"type": "disk", "path": "/", "maxPercent": 100},
        {"type": "load", "max": 1000},
        {"type": "process", "name": name},  # the old spelling: said once on stderr
    ]}))
    with processes([path, "60"]) as procs:
        status, out, err = check_app(["-c", str(config)])
    assert (status, err) == (0, f'Warning: {config}: websites[4]: process: "name" as the'
                                ' process name to match is deprecated; put it in "process"'
                                ' ("name" is then only the label)\n'), out
    traces = blocks(out)
    assert list(traces) == ["== cpu [cpu] ==", "== memory [memory] ==", "== disk:/ [disk] ==",
                            "== load [load] ==", f"== {name} (process:{name}) [process] =="]
    assert re.fullmatch(r"  busy: \d+\.\d% \(all but idle and iowait\)",
                        traces["== cpu [cpu] =="][2])
    assert re.fullmatch(r"  used: \d+\.\d% \(total - available, of total\)",
                        traces["== memory [memory] =="][-4])
    assert re.fullmatch(r"  used: \d+\.\d% \(used, of used \+ free: as df shows\)",
                        traces["== disk:/ [disk] =="][-4])
    assert re.fullmatch(r"  per core: \d+\.\d\d \(1-minute load over \d+ logical core\(s\)\)",
                        traces["== load [load] =="][-4])
    assert traces[f"== {name} (process:{name}) [process] =="][1:3] == [
        f"    pid {procs[0].pid} {name}: {path} 60", "  running: 1 (min 1)"]
    for lines in traces.values():
        assert lines[-3] == "  verdict: up"
        assert re.fullmatch(r"  response time: \d+\.\d ms", lines[-2]), lines
        assert re.fullmatch(r"UP duration=\d+\.\dms", lines[-1]), lines
    assert out.rstrip().endswith("5 checked: 5 up, 0 not up")


def test_check_of_a_process_not_running_exits_1(tmp_path, sleeper):
    name, _ = sleeper
    config = tmp_path / "config.json"
    # Named by its label, which changes nothing of what is counted.
    config.write_text(json.dumps({"monitors": [
        {"type": "process", "process": name, "name": "sleeper"},
        {"type": "memory", "maxPercent": 100}]}))
    status, out, err = check_app(["-c", str(config), "sleeper"])
    assert (status, err) == (1, "")
    assert re.fullmatch(rf'DOWN reason=process detail="{name}: 0 running, min 1"'
                        r" duration=\d+\.\dms", out.splitlines()[-1])
    assert out.splitlines()[0] == f"== sleeper (process:{name}) [process] =="
    assert "memory" not in out


def test_check_of_a_filling_disk_warns_and_exits_0(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"websites": [
        {"type": "disk", "path": str(tmp_path / "data"), "warnPercent": 60}]}))
    (tmp_path / "data").mkdir()
    done = in_tmpfs(tmp_path / "data", sys.executable, APP, "check", "-c", str(config),
                    f"disk:{tmp_path}/data", fill=3 * MiB)
    assert (done.returncode, done.stderr) == (0, ""), done.stdout
    assert done.stdout.splitlines()[-1].startswith(
        f'WARNING reason=threshold detail="disk {tmp_path}/data 75.0% used > warnPercent 60"'
        " duration=")


def test_monitoring_records_the_measured_values(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"processes": 1, "websites": [
        {"type": "cpu", "maxPercent": 100, "checkInterval": 0.3},
        {"type": "memory", "maxPercent": 100, "checkInterval": 0.3},
        {"type": "disk", "path": str(tmp_path), "maxPercent": 100, "checkInterval": 0.3},
        {"type": "load", "max": 1000, "checkInterval": 0.3},
        # Its own command line (which names this config) matches: not counted.
        {"type": "process", "match": re.escape(str(config)), "min": 0, "checkInterval": 0.3},
    ]}))
    db = tmp_path / "m.db"
    proc = start(["-m", "-s", "-c", str(config), "-db", str(db)], tmp_path)

    def recorded() -> set[str]:
        if not db.exists():
            return set()
        try:
            rows = query(db, "SELECT DISTINCT host FROM website_monitoring WHERE metrics"
                         " LIKE '%\"value\"%'")
        except Exception:  # noqa: BLE001 - the tables are not made yet
            return set()
        return {host for (host,) in rows}

    try:
        wait_for(lambda: len(recorded()) == 5, 20, "a value recorded by every host kind")
    finally:
        _, _, err = stop(proc)
    assert recorded() == {"cpu", "memory", f"disk:{tmp_path}", "load",
                          f"process~{re.escape(str(config))}"}, err
    rows = query(db, "SELECT host, available, status, metrics FROM website_monitoring")
    assert {(available, status) for _, available, status, _ in rows} == {(1, None)}
    values = {host: json.loads(metrics) for host, _, _, metrics in rows if metrics}
    assert set(values[f"disk:{tmp_path}"]) == {"value", "free_mb"}
    assert set(values["memory"]) == {"value", "available_mb"}
    # The monitor's own process is not counted (and -m runs the checks in that process).
    assert {json.loads(m)["value"] for h, _, _, m in rows if h.startswith("process")} == {0.0}


@pytest.mark.parametrize(("entries", "message"), [
    ([{"type": "disk", "path": "/"}, {"type": "disk", "path": "/"}],
     'websites[1].path: duplicate of websites[0].path: both make the id "disk:/"; give one of'
     ' them an "id"'),
    ([{"type": "cpu"}, {"type": "cpu"}],
     'websites[1].type: duplicate of websites[0].type: both make the id "cpu"; give one of'
     ' them an "id"'),
    ([{"type": "cpu", "id": "c"}, {"type": "memory", "id": "c"}],
     'websites[1].id: duplicate of websites[0].id: both make the id "c"; give one of them'
     ' another "id"'),
    # Each place named by its own key: an id given to one, the type that made the other's.
    ([{"type": "cpu"}, {"type": "memory", "id": "cpu"}],
     'websites[1].id: duplicate of websites[0].type: both make the id "cpu"; give one of'
     ' them an "id"'),
    ([{"type": "process", "process": "nginx", "min": 2}, {"type": "process", "name": "nginx"}],
     'websites[1].name: duplicate of websites[0].process: both make the id "process:nginx";'
     ' give one of them an "id"'),
    ([{"type": "process", "match": "a+", "name": "a"}, {"type": "process", "match": "a+"}],
     'websites[1].match: duplicate of websites[0].match: both make the id "process~a+"; give'
     ' one of them an "id"'),
])
def test_a_duplicate_is_named_by_the_key_that_made_its_id(entries, message):
    with pytest.raises(ConfigError) as caught:
        parse_config(json.dumps({"websites": entries}))
    assert str(caught.value) == f"config.json: {message}"
