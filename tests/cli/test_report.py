"""`report --once` (`-r --once`) of more monitors than --rows: the summary first, then the
worst by each measure, every row only with --all; exact output through click's CliRunner,
on a database filled by the real writer, at a fixed now (the report's clock)."""

import time
from types import SimpleNamespace

import pytest

from monitor.cli import main
from monitor.core.model import CheckResult
from monitor.render import report
from monitor.store.api import MonitorRow
from monitor.store.sqlite.writer import Store

NOW = 1_800_000_000.0  # a whole minute: the windows start on it, read from aggregates
SITES = [f"http://m{i}.test/" for i in range(8)]


def check(monitor: int, at: float, up: bool, ms: float) -> CheckResult:
    return CheckResult(SITES[monitor], at, up, 200 if up else 503, ms,
                       None if up else "http_status")


@pytest.fixture()
def db(tmp_path, monkeypatch):
    """Eight monitors, one check every 10 s for five minutes: m0 up and quick, m1 down for
    its last 3 checks, m2 for its last 10, m3 up every other check, m4 failing 3 times at
    the start, m5 up and slow, m6 up with a slow answer now and then, m7 never checked.
    The report reads at NOW."""
    path = tmp_path / "m.db"
    store = Store(path, clock=lambda: NOW)
    store.set_monitors([MonitorRow(url, "http", url, "", 10.0) for url in SITES])
    for step in range(30):
        at = NOW - 300 + step * 10
        store.put_check(check(0, at, True, 10.0))
        store.put_check(check(1, at, step < 27, 20.0))
        store.put_check(check(2, at, step < 20, 30.0))
        store.put_check(check(3, at, step % 2 == 1, 40.0))
        store.put_check(check(4, at, step not in (3, 4, 5), 50.0))
        store.put_check(check(5, at, True, 500.0))
        store.put_check(check(6, at, True, 900.0 if step % 10 == 0 else 60.0))
    store.close()
    monkeypatch.setattr(report, "time", SimpleNamespace(time=lambda: NOW,
                                                        strftime=time.strftime,
                                                        gmtime=time.gmtime))
    return str(path)


HEADER = ("monitor            avail    checks    skipped    min ms    avg ms    max ms    p50  "
          "  p90    p99  status codes    failures          down for    last failure")
DASHES = ("---------------  -------  --------  ---------  --------  --------  --------  -----"
          "  -----  -----  --------------  --------------  ----------  --------------")
ROWS = {
    "m2": ("http://m2.test/    66.7%        30          0      30.0      30.0      30.0   30.0 "
           "  30.0   30.0  200:20 503:10   http_status:10       1m40s         10s ago"),
    "m1": ("http://m1.test/    90.0%        30          0      20.0      20.0      20.0   20.0 "
           "  20.0   20.0  200:27 503:3    http_status:3          30s         10s ago"),
    "m3": ("http://m3.test/    50.0%        30          0      40.0      40.0      40.0   40.0 "
           "  40.0   40.0  200:15 503:15   http_status:15           -         20s ago"),
    "m4": ("http://m4.test/    90.0%        30          0      50.0      50.0      50.0   50.0 "
           "  50.0   50.0  200:27 503:3    http_status:3            -       4m10s ago"),
    "m6": ("http://m6.test/   100.0%        30          0      60.0       144       900   61.1 "
           "  61.1    895  200:30          -                        -           never"),
    "m5": ("http://m5.test/   100.0%        30          0       500       500       500    500  "
           "  500    500  200:30          -                        -           never"),
}


def test_more_monitors_than_rows_lead_with_the_summary_and_the_worst(runner, db):
    result = runner.invoke(main, ["-r", "--once", "--rows", "6", "-db", db])
    assert result.exit_code == 0, result.output
    ten_minutes = [
        "== 2027-01-15 08:00:00 UTC: past 10m00s (since 07:50) ==",
        "8 monitors: 2 down, 0 warning, 2 unstable, 3 up (1 not checked yet)",
        "210 checks (0.3/s), availability 85.2%, response time avg 113.4 ms",
        HEADER, DASHES,
        "Down now, longest first (2 of 2):", ROWS["m2"], ROWS["m1"],
        "Lowest availability (2 of 2):", ROWS["m3"], ROWS["m4"],
        "Slowest p99 (2 of 3):", ROWS["m6"], ROWS["m5"],
        "(6 of 8 monitors listed; `report --all` lists every one)",
    ]
    hour = [ten_minutes[0].replace("10m00s (since 07:50)", "1h00m00s (since 07:00)"),
            ten_minutes[1], "210 checks (0.1/s), availability 85.2%, response time avg"
            " 113.4 ms", *ten_minutes[3:]]
    # The blocks as -m prints them, each ending in an empty line.
    assert result.output == "\n".join([*ten_minutes, "", *hour, "", "Recent alerts: none",
                                       "", ""])


def test_the_same_as_the_report_command_and_every_row_when_asked(runner, db):
    flag = runner.invoke(main, ["-r", "--once", "--rows", "6", "-db", db])
    command = runner.invoke(main, ["report", "--once", "--rows", "6", "-db", db])
    assert command.exit_code == 0 and command.output == flag.output
    every = runner.invoke(main, ["-r", "--once", "--all", "-db", db])
    assert every.exit_code == 0, every.output
    for block in every.output.split("\n\n")[:2]:  # both windows: every monitor, in order
        lines = block.splitlines()
        assert lines[1:3] == [HEADER, DASHES]
        assert [line.split()[0] for line in lines[3:]] == SITES
        assert [lines[3 + int(name[1])] for name in ROWS] == list(ROWS.values())
    # Up to --rows monitors (50 by default) the table lists each, as it always did.
    assert runner.invoke(main, ["-r", "--once", "-db", db]).output == every.output
    assert runner.invoke(main, ["-r", "--once", "--rows", "8", "-db", db]).output == (
        every.output)


@pytest.mark.parametrize(("args", "message"), [
    (["-r", "--once", "--all", "--rows", "3"], "Error: --all lists every monitor: --rows does"
                                                " not apply"),
    (["-r", "--once", "--rows", "0"], "Error: Invalid value for '--rows': 0 is not in the"
                                      " range x>=1."),
    (["-m", "--rows", "3"], "Error: --rows only goes with -r"),
    (["-a", "--all"], "Error: --all only goes with -r"),
])
def test_rows_and_all_usage_errors(runner, args, message):
    result = runner.invoke(main, args)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == message
