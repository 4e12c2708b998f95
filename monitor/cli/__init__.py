"""The command line. The only place that turns errors into messages and exit codes.

Imports of the engine are deferred to the mode that needs them, so that `--help` costs
little more than importing click.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys

import click

from monitor import __version__
from monitor.errors import ConfigError, MonitorError
from monitor.render.display import Display

MODES = {
    "monitor": "-m",
    "alerts": "-a",
    "selftest": "-t",
    "report": "-r",
    "purge": "--purge",
    "validate": "--validate",
}


# `git log | head` and every other Unix tool end by SIGPIPE when their reader goes away,
# which a shell reports as 128 + 13: a script with `set -o pipefail` sees the same from us.
BROKEN_PIPE_EXIT = 128 + signal.SIGPIPE
# The oldest data --purge can name: time.time() - days * 86400 must stay a valid epoch.
MAX_PURGE_DAYS = 36500


def _fail(message: str, code: int) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


class _Days(click.ParamType):
    """A number of days for --purge: finite, above 0, at most MAX_PURGE_DAYS (`nan`, `inf`
    and `1e300` pass a plain float range check)."""

    name = "days"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        try:
            days = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            days = float("nan")
        if not 0 < days <= MAX_PURGE_DAYS:  # also false for nan
            self.fail(f"{value!r} is not a number of days greater than 0 and at most "
                      f"{MAX_PURGE_DAYS}", param, ctx)
        return days


def _quiet_stdout() -> None:
    """After a BrokenPipeError, point stdout at /dev/null, so that the interpreter's final
    flush of what is still buffered does not fail again (Python docs, "Note on SIGPIPE")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real stdout (click's test runner): nothing to flush
        pass


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-m", "--monitor", is_flag=True,
              help="Monitor the sites of the config file and print stats.")
@click.option("-a", "--alerts", is_flag=True,
              help="Print the alert and recovery history, then follow new ones.")
@click.option("-t", "--selftest", is_flag=True,
              help="Self-test the alerting against a throwaway local server.")
@click.option("-r", "--report", is_flag=True,
              help="Print the periodic stats from the database another -m writes.")
@click.option("--purge", type=_Days(), metavar="DAYS",
              help="Delete checks and alerts older than DAYS days, then exit.")
@click.option("--validate", is_flag=True, help="Check the config file, then exit.")
@click.option("-c", "--config", "config_path", default="config.json", show_default=True,
              metavar="FILE", help="Config file.")
@click.option("-db", "--database", "db_path", default="monitoring.db", show_default=True,
              metavar="FILE", help="SQLite database file.")
@click.option("-s", "--silent", is_flag=True, help="With -m: monitor without printing.")
@click.option("--once", is_flag=True, help="With -r: print the stats once and exit.")
@click.option("--no-follow", is_flag=True,
              help="With -a: print the history and exit instead of following it.")
@click.option("--plain", is_flag=True,
              help="With -m or -r on a terminal: appended tables, not the live view.")
@click.option("--no-color", is_flag=True, help="No colour (also: the NO_COLOR variable).")
@click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors.")
@click.version_option(__version__, "--version", prog_name="monitoringApp")
@click.pass_context
def main(ctx: click.Context, monitor: bool, alerts: bool, selftest: bool, report: bool,
         purge: float | None, validate: bool, config_path: str, db_path: str, silent: bool,
         once: bool, no_follow: bool, plain: bool, no_color: bool, debug: bool) -> None:
    """Uptime and performance monitor for websites.

    \b
    Examples:
      monitoringApp.py -m                      monitor the sites in config.json
      monitoringApp.py -m -c sites.json -db monitoring.db
      monitoringApp.py -a                      alert history, following new alerts
      monitoringApp.py -r                      stats from the database of a running -m
      monitoringApp.py -t                      self-test of the alerting
    """
    chosen = [name for name, on in (("monitor", monitor), ("alerts", alerts),
                                    ("selftest", selftest), ("report", report),
                                    ("purge", purge is not None), ("validate", validate)) if on]
    if len(chosen) != 1:
        flags = ", ".join(MODES[name] for name in chosen) if chosen else "none"
        raise click.UsageError(
            f"choose exactly one mode of -m, -a, -t, -r, --purge, --validate (got {flags})")
    mode = chosen[0]
    source = ctx.get_parameter_source
    for flag, name, allowed in (("-s", "silent", {"monitor"}), ("--once", "once", {"report"}),
                                ("--no-follow", "no_follow", {"alerts"}),
                                ("--plain", "plain", {"monitor", "report"})):
        if ctx.params[name] and mode not in allowed:
            raise click.UsageError(f"{flag} only goes with "
                                   + " or ".join(sorted(MODES[m] for m in allowed)))
    if mode == "selftest" and source("db_path") != click.core.ParameterSource.DEFAULT:
        raise click.UsageError("-t uses a throwaway database; -db does not apply")
    # -r, -a and --purge read the database and ignore -c: a user naturally gives them the
    # flags of the -m that writes it. -t monitors a config of its own.
    if mode == "selftest" and source("config_path") != click.core.ParameterSource.DEFAULT:
        raise click.UsageError("-c does not apply to -t")

    try:
        _run(mode, config_path, db_path, silent, once, no_follow, purge,
             _display(plain, no_color))
    except ConfigError as exc:
        _fail(str(exc), 2)
    except MonitorError as exc:
        _fail(str(exc), 1)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        # The reader of the output went away (`-a | head -1`): end quietly, as `git log |
        # head` does (-m has stopped and committed everything by now).
        _quiet_stdout()
        sys.exit(BROKEN_PIPE_EXIT)
    except Exception as exc:  # noqa: BLE001 - the one place that may hide a traceback
        if debug:
            raise
        from monitor.secrets import redact_known

        # A bug's message may quote a request, and so a credential: masked like all output.
        _fail(redact_known(f"unexpected {type(exc).__name__}: {exc} "
                           "(run with --debug for details)"), 1)


def _display(plain: bool, no_color: bool) -> Display:
    """The live view on a terminal; elsewhere (a pipe, a file, a journal) or with --plain,
    plain tables, fitted to COLUMNS when it is set (or to the terminal, with --plain)."""
    terminal = sys.stdout.isatty()
    width = None
    if os.environ.get("COLUMNS", "").isdigit() or terminal:
        width = max(20, shutil.get_terminal_size().columns)
    return Display(live=terminal and not plain, color=not no_color, width=width)


def _run(mode: str, config_path: str, db_path: str, silent: bool, once: bool,
         no_follow: bool, purge_days: float | None, display: Display) -> None:
    echo = click.echo

    def err(message: str) -> None:
        click.echo(message, err=True)

    if mode == "validate":
        from monitor.config import load_config

        config = load_config(config_path)
        echo(f"{config_path}: OK, {len(config.monitors)} site(s)")
    elif mode == "monitor":
        from monitor.cli.modes import run_monitor

        if not run_monitor(config_path, db_path, silent, echo, err, display=display):
            # Stopped, everything committed and closed, but stdout is a pipe nobody reads:
            # the interpreter's exit would flush it and wait forever.
            sys.stderr.flush()
            os._exit(0)
    elif mode == "report":
        from monitor.cli.modes import run_report

        if not run_report(db_path, echo, once, display=display):
            os._exit(0)  # as for -m: the terminal does not take the last frame
    elif mode == "alerts":
        from monitor.cli.modes import follow_alerts

        follow_alerts(db_path, echo, follow=not no_follow)
    elif mode == "purge":
        from monitor.cli.modes import purge

        checks, alerts = purge(db_path, purge_days)  # type: ignore[arg-type]
        echo(f"Purged {checks} check(s) and {alerts} alert(s) older than {purge_days:g} day(s) "
             f"from {db_path}.")
    elif mode == "selftest":
        from monitor.cli.selftest import run_selftest

        sys.exit(0 if run_selftest(echo) else 1)
