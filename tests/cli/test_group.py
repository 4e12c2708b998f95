"""The commands of the command line (`monitor`, `alerts`, `report`, `check`, `selftest`,
`validate`, `purge`): the same code and output as the mode flags, against real loopback
servers and, for the long-running ones, the real program in a real process."""

import dataclasses
import json
import re
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from monitor.checks import registry
from monitor.cli import main
from monitor.core.model import CheckResult
from tests.cli.test_cli import seeded_db, write_config
from tests.support.app import blocks, run_app, start, stop, wait_for, write
from tests.support.config import DURATION
from tests.support.db import count_checks, query
from tests.support.hostile import refused_url

COMMANDS = ("monitor", "alerts", "report", "check", "selftest", "validate", "monitors", "init",
            "purge", "serve", "notify", "maintenance", "logs", "schema", "agent", "migrate")


def steady(report: str) -> str:
    """A report without its clock: the title of each table names the minute it was made,
    and "down for" and "last failure" count the seconds since (widening their columns)."""
    report = re.sub(r"^== .* ==$", "== (title) ==", report, flags=re.MULTILINE)
    report = re.sub(r"\b(\d+h)?(\d+m)?\d+s\b", "(time)", report)
    return re.sub(r"[ -]+", " ", report)


# --- help -------------------------------------------------------------------------------

def test_help_lists_the_commands_and_the_mode_flags(runner):
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    commands = result.output.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    assert [line.split()[0] for line in commands.splitlines()] == list(COMMANDS)
    assert "Modes as flags" in result.output and "-m, --monitor" in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_its_own_help(runner, command):
    result = runner.invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert result.output.startswith(f"Usage: main {command} [OPTIONS]")


@pytest.mark.parametrize("args", [["--help"], ["check", "--help"], ["monitor", "-h"]])
def test_help_imports_no_engine(args):
    # --help must cost little more than importing click: nothing of the checks, the
    # config, the engine or requests is imported to print it.
    code = ("import sys\nfrom monitor.cli import main\n"
            f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
            "print(' '.join(sorted(sys.modules)), file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=30)
    loaded = set(done.stderr.split())
    assert "Usage:" in done.stdout
    heavy = {"monitor.checks", "monitor.config", "monitor.engine", "monitor.store",
             "requests", "rich", "flask", "sqlite3"}
    assert not loaded & heavy, loaded & heavy


# --- usage errors -----------------------------------------------------------------------

@pytest.mark.parametrize(("args", "message"), [
    (["-m", "report"], "Error: choose one mode: the command report or -m, not both"),
    (["-r", "-a", "alerts"], "Error: choose one mode: the command alerts or -a, -r, not both"),
    (["--once", "report"], "Error: --once goes after the command: report --once"),
    (["-s", "monitor"], "Error: -s goes after the command: monitor -s"),
    (["-db", "x.db", "selftest"], "Error: selftest (-t) uses a throwaway database; -db "
                                  "does not apply"),
    (["-c", "x.json", "selftest"], "Error: -c does not apply to selftest (-t)"),
    (["selftest", "-db", "x.db"], "Error: selftest (-t) uses a throwaway database; -db "
                                  "does not apply"),
    (["selftest", "-c", "x.json"], "Error: -c does not apply to selftest (-t)"),
    (["report", "-s"], "Error: No such option '-s'."),
    (["alerts", "--once"], "Error: No such option '--once'."),
    (["monitor", "--once"], "Error: No such option '--once'."),
    (["purge"], "Error: Missing argument 'DAYS'."),
    (["purge", "0"], "Error: Invalid value for 'DAYS': '0' is not a number of days greater "
                     "than 0 and at most 36500"),
    (["purge", "nan"], "Error: Invalid value for 'DAYS': 'nan' is not a number of days "
                       "greater than 0 and at most 36500"),
    (["nonsense"], "Error: No such command 'nonsense'."),
])
def test_usage_errors_of_the_commands_exit_2(runner, args, message):
    result = runner.invoke(main, args)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == message


def test_no_mode_at_all_is_still_the_original_error(runner):
    result = runner.invoke(main, [])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: choose exactly one mode of -m, -a, -t, -r, --purge, --validate (got none)")


# --- the same output as the flags -------------------------------------------------------

def test_validate_command_is_validate_flag(runner, tmp_path):
    path = write_config(tmp_path / "c.json", {"websites": [{"URL": "http://a.test/"}]})
    flag = runner.invoke(main, ["--validate", "-c", path, "-db", "m.db"])
    # -db is accepted and ignored, as --validate does: it has no database.
    for args in (["validate", "-c", path], ["-c", path, "validate"],
                 ["validate", "-c", path, "-db", "m.db"]):
        result = runner.invoke(main, args)
        assert (result.exit_code, result.output) == (0, flag.output) == (
            0, f"{path}: OK, 1 monitor(s)\n")


def test_validate_command_reports_config_errors_as_the_flag_does(runner, tmp_path):
    path = write_config(tmp_path / "c.json",
                        {"websites": [{"URL": "http://a.test/", "checkInterval": 0}]})
    flag = runner.invoke(main, ["--validate", "-c", path])
    result = runner.invoke(main, ["validate", "-c", path])
    assert (result.exit_code, result.stderr) == (flag.exit_code, flag.stderr) == (
        2, f"Error: {path}: websites[0].checkInterval: {DURATION}\n")


@pytest.mark.parametrize(("flags", "command"), [
    (["-a", "--no-follow"], ["alerts", "--no-follow"]),
    (["-r", "--once"], ["report", "--once"]),
])
def test_readers_print_what_their_flags_print(runner, tmp_path, flags, command):
    db = seeded_db(tmp_path, time.time())
    expected = runner.invoke(main, [*flags, "-db", db])
    assert expected.exit_code == 0, expected.output
    for args in ([*command, "-db", db], ["-db", db, *command],
                 [*command, "-db", db, "-c", str(tmp_path / "none.json")]):
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
        assert steady(result.output) == steady(expected.output)
        assert result.stderr == ""


def test_purge_command_is_purge_flag(runner, tmp_path):
    now = time.time() - 3 * 86400
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    flag = runner.invoke(main, ["--purge", "2", "-db", seeded_db(tmp_path / "a", now)])
    db = seeded_db(tmp_path / "b", now)
    result = runner.invoke(main, ["purge", "2", "-db", db])
    assert result.exit_code == flag.exit_code == 0
    assert result.output == flag.output.replace(str(tmp_path / "a"), str(tmp_path / "b")) == (
        f"Purged 60 check(s) and 1 alert(s) older than 2 day(s) from {db}.\n")


def test_commands_report_errors_as_the_flags_do(runner, tmp_path):
    missing = str(tmp_path / "none.db")
    message = f"Error: {missing}: database not found (start the monitor with -m first)\n"
    for args in (["alerts", "--no-follow", "-db", missing], ["report", "--once", "-db", missing],
                 ["purge", "1", "-db", missing], ["-db", missing, "alerts", "--no-follow"]):
        result = runner.invoke(main, args)
        assert (result.exit_code, result.stderr) == (1, message), args


@pytest.mark.parametrize("mode", ["-m", "monitor"])
def test_unexpected_error_in_a_command_is_one_masked_line(runner, tmp_path, monkeypatch, mode):
    # An unexpected error is a bug, so it is provoked here by hand: one whose message quotes
    # the URL with its password, as a careless f-string in a bug's path might.
    import monitor.cli.modes

    url = "http://watcher:pa55-w0rd@127.0.0.1:9/"

    def broken_store(*args, **kwargs):
        raise RuntimeError(f"cannot check {url}")

    monkeypatch.setattr(monitor.cli.modes, "open_store", broken_store)
    path = write_config(tmp_path / "c.json", {"websites": [{"URL": url}]})
    result = runner.invoke(main, [mode, "-c", path, "-db", str(tmp_path / "m.db")])
    assert result.exit_code == 1
    assert "pa55-w0rd" not in result.output + result.stderr
    assert result.stderr == ("Error: unexpected RuntimeError: cannot check "
                             "http://watcher:***@127.0.0.1:9/ (run with --debug for details)\n")
    for args in (["monitor", "--debug"], ["--debug", "monitor"]):
        result = runner.invoke(main, [*args, "-c", path, "-db", str(tmp_path / "m.db")])
        assert isinstance(result.exception, RuntimeError)  # --debug: the traceback


# --- the real program against real loopback servers --------------------------------------

def test_monitor_command_then_the_readers_as_commands_and_flags(hostile, tmp_path):
    ok = hostile.base + "/ok?group"
    down = refused_url()
    config = tmp_path / "config.json"
    write(config, {"websites": [{"URL": ok, "checkInterval": 0.1, "name": "up site"},
                                {"URL": down, "checkInterval": 0.1}], "alertWindow": 1})
    db = str(tmp_path / "m.db")
    proc = start(["monitor", "-c", str(config), "-db", db], tmp_path)
    wait_for(lambda: count_checks(db, ok) >= 5 and count_checks(db, down) >= 15, 15,
             "checks of both sites")
    wait_for(lambda: query(db, "SELECT count(*) FROM website_alerts")[0][0] == 1, 10,
             "the alert of the down site")
    elapsed, out, err = stop(proc)
    assert (proc.returncode, err) == (0, "")
    assert elapsed < 2.0
    assert out.startswith(f"Monitoring 2 monitor(s) from {config} into {db}")
    assert f"ALERT: Website {down} is down." in out
    assert out.rstrip().splitlines()[-1].startswith("Stopped; ")

    for flags, command in ((["-a", "--no-follow"], ["alerts", "--no-follow"]),
                           (["-r", "--once"], ["report", "--once"])):
        by_flag = run_app([*flags, "-db", db], tmp_path)
        by_command = run_app([*command, "-db", db], tmp_path)
        assert by_flag[0] == by_command[0] == 0, (by_flag, by_command)
        assert steady(by_command[1]) == steady(by_flag[1]) and by_command[2] == ""
    assert f"Website {down} is down." in by_command[1]
    assert "up site" in by_command[1]
    assert run_app(["purge", "1", "-db", db], tmp_path) == (
        0, f"Purged 0 check(s) and 0 alert(s) older than 1 day(s) from {db}.\n", "")
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


# --- each mode flag is its command ------------------------------------------------------

# For each mode flag, the arguments after it (or after its command), each case run both
# ways on its own copy of the same real database: a success, and errors.
FLAG_CASES = {
    "monitor": [["-c", "bad.json", "-db", "m.db"], ["-c", "none.json"],
                ["-s", "-c", "ok.json", "-db", "held.db"]],
    "alerts": [["--no-follow", "-db", "m.db"], ["--no-follow", "-db", "none.db"]],
    "report": [["--once", "-db", "m.db"], ["--once", "-db", "none.db"]],
    "selftest": [[], ["-db", "m.db"], ["-c", "ok.json"]],
    "purge": [["2", "-db", "m.db"], ["2", "-db", "none.db"]],
    "validate": [["-c", "ok.json", "-db", "m.db"], ["-c", "bad.json"]],
}


def test_every_mode_flag_has_its_cases():
    from monitor.cli import MODES

    assert set(FLAG_CASES) == set(MODES)


@pytest.mark.parametrize(("mode", "tail"), [
    (mode, tail) for mode, cases in FLAG_CASES.items() for tail in cases])
def test_each_flag_is_its_command(runner, tmp_path, monkeypatch, mode, tail):
    from monitor.cli import MODES
    from monitor.store.sqlite.owner import DatabaseOwner

    now = time.time() - 3 * 86400  # old enough for `purge 2` to delete some
    outcomes = []
    for form, args in (("flag", [MODES[mode], *tail]), ("command", [mode, *tail])):
        where = tmp_path / form
        where.mkdir()
        seeded_db(where, now)
        write_config(where / "ok.json", {"websites": [{"URL": "http://127.0.0.1:9/"}]})
        write_config(where / "bad.json", {"websites": [{"URL": "http://a.test/",
                                                        "checkInterval": 0}]})
        monkeypatch.chdir(where)
        owner = DatabaseOwner("held.db")  # another monitor's database
        try:
            result = runner.invoke(main, args)
        finally:
            owner.release()
        out, err = steady(result.stdout), steady(result.stderr)
        if mode == "selftest":  # its own server's port, and the times it measured
            out = re.sub(r"\d+", "N", out)
        outcomes.append((result.exit_code, out, err))
        # An error is a message and an exit status, never an exception of the dispatch.
        assert result.exception is None or isinstance(result.exception, SystemExit), (
            result.exception)
    by_flag, by_command = outcomes
    assert by_flag == by_command
    assert by_flag[1] or by_flag[2]  # it said something


def test_each_flag_has_its_commands_help(runner):
    from monitor.cli import MODES

    text = runner.invoke(main, ["--help"]).output
    flags = " ".join(text.split("Modes as flags (each the same as its command):\n", 1)[1]
                     .split("\n\n", 1)[0].split())
    for mode, flag in MODES.items():
        own = runner.invoke(main, [mode, "--help"]).output
        first = " ".join(own.split("\n\n", 2)[1].split())  # the first line of its help
        assert re.search(rf"(^| ){re.escape(flag)}[ ,][^T]*The {mode} command: "
                         rf"{re.escape(first)}", flags), mode
        assert f"{mode} {first.rstrip('.')} ({flag})." in " ".join(text.split()), mode


def test_the_monitor_flag_runs_what_its_command_runs(hostile, tmp_path):
    # The real program, until stopped: the same lines, but for its counts.
    outcomes = []
    for args in (["-m"], ["monitor"]):
        where = tmp_path / args[0].lstrip("-")
        where.mkdir()
        write(where / "config.json", {"websites": [{"URL": hostile.base + "/ok?flag",
                                                    "checkInterval": 0.1}]})
        proc = start([*args, "-db", "m.db"], where)
        wait_for(lambda w=where: count_checks(w / "m.db") >= 3, 15, "three checks")
        _elapsed, out, err = stop(proc)
        outcomes.append((proc.returncode, re.sub(r"\d+", "N", out), err))
    by_flag, by_command = outcomes
    assert by_flag == by_command
    assert by_flag[0] == 0 and by_flag[1].startswith("Monitoring N monitor(s) from config.json")
    assert by_flag[1].rstrip().endswith("Stopped; N checks recorded in m.db.")


# --- check ------------------------------------------------------------------------------

def check_config(tmp_path, sites):
    path = tmp_path / "config.json"
    write(path, {"websites": sites})
    return str(path)


def test_check_all_up_exits_0(hostile, tmp_path):
    path = check_config(tmp_path, [{"URL": hostile.base + "/ok", "name": "fine"},
                                   {"URL": hostile.base + "/ok?second"}])
    status, out, err = run_app(["check", "-c", path], tmp_path)
    assert (status, err) == (0, ""), out
    traces = blocks(out)
    assert list(traces) == [f"== fine ({hostile.base}/ok) [http] ==",
                            f"== {hostile.base}/ok?second [http] =="]
    for lines in traces.values():
        assert re.fullmatch(r"UP code=200 duration=\d+\.\dms", lines[-1]), lines
    assert out.rstrip().endswith("2 checked: 2 up, 0 not up")


def test_check_any_down_exits_1(hostile, tmp_path):
    down = refused_url()
    path = check_config(tmp_path, [{"URL": hostile.base + "/ok"}, {"URL": down},
                                   {"URL": hostile.base + "/500"}])
    status, out, err = run_app(["-c", path, "check"], tmp_path)
    assert (status, err) == (1, ""), out
    traces = blocks(out)
    assert traces[f"== {hostile.base}/ok [http] =="][-1].startswith("UP code=200 ")
    assert re.fullmatch(r'DOWN reason=connect detail="[^"]+" duration=\d+\.\dms',
                        traces[f"== {down} [http] =="][-1])
    assert traces[f"== {hostile.base}/500 [http] =="][-1].startswith(
        'DOWN reason=http_status detail="HTTP 500 Internal Server Error" code=500 ')
    assert out.rstrip().endswith("3 checked: 1 up, 2 not up")


def test_check_runs_the_monitors_at_once(hostile, tmp_path):
    # Three checks of a server that answers in 1 s each: one after the other, 3 s.
    path = check_config(tmp_path, [{"URL": f"{hostile.base}/slow?{i}", "timeout": 5}
                                   for i in range(3)])
    hostile.slow_seconds = 1.0
    try:
        started = time.monotonic()
        result = CliRunner().invoke(main, ["check", "-c", path])
        elapsed = time.monotonic() - started
    finally:
        hostile.slow_seconds = 0.1
    assert result.exit_code == 0, result.output
    assert elapsed < 2.5, elapsed


def test_check_chooses_by_name_id_or_target(hostile, tmp_path):
    down = refused_url()
    path = check_config(tmp_path, [{"URL": hostile.base + "/ok", "name": "fine"},
                                   {"URL": down, "name": "gone"}])
    runner = CliRunner()
    for args in (["fine"], [hostile.base + "/ok"], ["fine", hostile.base + "/ok"]):
        result = runner.invoke(main, ["check", "-c", path, *args])
        assert result.exit_code == 0, result.output
        assert list(blocks(result.output)) == [f"== fine ({hostile.base}/ok) [http] =="]
    result = runner.invoke(main, ["check", "-c", path, "gone", "fine"])
    assert result.exit_code == 1
    assert list(blocks(result.output)) == [f"== gone ({down}) [http] ==",
                                           f"== fine ({hostile.base}/ok) [http] =="]


def test_check_of_an_adhoc_url_needs_no_config_nor_database(hostile, tmp_path):
    # No config.json where it runs: URLs alone are checked with the default settings.
    status, out, err = run_app(["check", hostile.base + "/ok?adhoc"], tmp_path)
    assert (status, err) == (0, ""), out
    assert list(blocks(out)) == [f"== {hostile.base}/ok?adhoc [http] =="]
    assert hostile.hits.get("/ok", 0) >= 1
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no database made
    status, out, err = run_app(["check", refused_url()], tmp_path)
    assert (status, err) == (1, "")
    assert out.splitlines()[-1].startswith("DOWN reason=connect ")


def test_check_of_an_adhoc_url_beside_the_config(hostile, tmp_path):
    path = check_config(tmp_path, [{"URL": hostile.base + "/ok", "name": "fine"}])
    result = CliRunner().invoke(main, ["check", "-c", path, "fine", hostile.base + "/500"])
    assert result.exit_code == 1
    assert list(blocks(result.output)) == [f"== fine ({hostile.base}/ok) [http] ==",
                                           f"== {hostile.base}/500 [http] =="]


def test_check_never_prints_a_password(hostile, tmp_path):
    port = hostile.server_address[1]
    url = f"http://watcher:pa55-w0rd@127.0.0.1:{port}/500"
    result = CliRunner().invoke(main, ["check", url])
    assert result.exit_code == 1
    assert "pa55-w0rd" not in result.output + result.stderr
    assert f"== http://watcher:***@127.0.0.1:{port}/500 [http] ==" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["nope"], "Error: no monitor 'nope' in {path}: give a monitor's id, name or target, "
               "or an http(s) URL; `monitors` lists them"),
    (["fin"], "Error: no monitor 'fin' in {path}: give a monitor's id, name or target, "
              "or an http(s) URL; closest: 'fine'"),
    (["fine", "ftp://x.test/"], "Error: no monitor 'ftp://x.test/' in {path}: give a "
                                "monitor's id, name or target, or an http(s) URL; "
                                "`monitors` lists them"),
])
def test_check_of_an_unknown_name_is_a_usage_error(hostile, tmp_path, args, message):
    path = check_config(tmp_path, [{"URL": hostile.base + "/ok", "name": "fine"}])
    hits = hostile.hits.get("/ok", 0)
    result = CliRunner().invoke(main, ["check", "-c", path, *args])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == message.format(path=path)
    assert hostile.hits.get("/ok", 0) == hits  # nothing was checked


def test_check_of_an_unknown_name_without_config(tmp_path):
    hint = (" (name another with -c FILE, or write an example one with"
            " `monitoringApp.py init`)")
    status, out, err = run_app(["check", "nope"], tmp_path)
    assert (status, out) == (2, "")
    assert err.splitlines()[-1] == "Error: config.json: file not found" + hint
    status, out, err = run_app(["check", "-c", str(tmp_path / "none.json"),
                                "http://127.0.0.1:9/"], tmp_path)
    assert (status, out) == (2, "")  # a config asked for must be there
    named = hint.replace("init`", f"init -c {tmp_path / 'none.json'}`")
    assert err == f"Error: {tmp_path / 'none.json'}: file not found{named}\n"
    status, out, err = run_app(["-c", str(tmp_path / "none.json"), "check",
                                "http://127.0.0.1:9/"], tmp_path)
    assert (status, out, err) == (2, "", f"Error: {tmp_path / 'none.json'}: file not found"
                                         f"{named}\n")


def test_check_prints_the_trace_of_a_kind_that_has_one(hostile, tmp_path, monkeypatch):
    # A kind with `debug` (http will have one): its lines, the secrets masked, then the
    # verdict of the result it returns.
    def traced(monitor):
        lines = [f"GET {monitor.spec.url}", "connected\x1b[31m", "HTTP/1.1 200 OK"]
        return CheckResult(monitor.id, time.time(), True, 200, 1.5), lines

    kind = registry.get("http")
    monkeypatch.setitem(registry._KINDS, "http", dataclasses.replace(kind, debug=traced))
    port = hostile.server_address[1]
    result = CliRunner().invoke(main, ["check", f"http://u:s3cret-pw@127.0.0.1:{port}/"])
    assert result.exit_code == 0, result.output
    assert result.output == (f"== http://u:***@127.0.0.1:{port}/ [http] ==\n"
                             f"  GET http://u:***@127.0.0.1:{port}/\n"
                             "  connected?[31m\n"
                             "  HTTP/1.1 200 OK\n"
                             "UP code=200 duration=1.5ms\n")


def test_check_of_a_kind_whose_check_fails_shows_it_and_the_others(hostile, tmp_path,
                                                                   monkeypatch):
    def broken(monitor):
        if monitor.target.endswith("/broken"):
            raise RuntimeError("a bug in the kind")
        return CheckResult(monitor.id, time.time(), True, 200, 1.0), []

    kind = registry.get("http")
    monkeypatch.setitem(registry._KINDS, "http", dataclasses.replace(kind, debug=broken))
    result = CliRunner().invoke(main, ["check", hostile.base + "/broken", hostile.base + "/ok"])
    assert result.exit_code == 1
    traces = blocks(result.output)
    assert traces[f"== {hostile.base}/broken [http] =="] == [
        "  the check failed: RuntimeError: a bug in the kind", "UNKNOWN reason=error"]
    assert traces[f"== {hostile.base}/ok [http] =="] == ["UP code=200 duration=1.0ms"]


def test_check_verdict_quotes_its_detail(hostile, tmp_path):
    # The detail of a verdict is quoted as JSON: a quote in it cannot end it early.
    result = CliRunner().invoke(main, ["check", hostile.base + "/garbage"])
    assert result.exit_code == 1
    verdict = result.output.strip().splitlines()[-1]
    detail = re.search(r'detail=("(?:[^"\\]|\\.)*")', verdict)
    assert detail is not None and json.loads(detail.group(1))
