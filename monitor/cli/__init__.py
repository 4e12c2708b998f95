"""The command line. The only place that turns errors into messages and exit codes.

Imports of the engine are deferred to the mode that needs them, so that `--help` costs
little more than importing click.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from typing import TypeVar

import click

from monitor import __version__
from monitor.cli.agent import agent_command
from monitor.cli.errors import guarded
from monitor.cli.logs import logs_command
from monitor.cli.maintenance import maintenance_group
from monitor.cli.migrate import migrate_command
from monitor.cli.notify import notify_group
from monitor.cli.schema import schema_command
from monitor.render.display import ROWS, Display

# The card's mode flags, each the command of the same name run with the options given
# (`-r --once` is `report --once`, `--purge 7` is `purge 7`): the one table both read.
MODES = {
    "monitor": "-m",
    "alerts": "-a",
    "selftest": "-t",
    "report": "-r",
    "purge": "--purge",
    "validate": "--validate",
}
# The group's options that belong to some commands only: with a flag, handed to its
# command; before a command, an error (they go after it). The others (-c, -db, --no-color,
# --debug) apply to every command, before it or after it.
COMMAND_OPTIONS = ("silent", "once", "all_rows", "rows", "no_follow", "plain", "web",
                   "public_read", "trusted_proxy")
# The address `--web` listens on when given without one (serve's default too).
DEFAULT_LISTEN = "127.0.0.1:8080"


F = TypeVar("F", bound=Callable[..., object])

# The oldest data --purge can name: time.time() - days * 86400 must stay a valid epoch.
MAX_PURGE_DAYS = 36500


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


class _Cli(click.Group):
    """The commands, plus the original mode flags: invoked without a command, the group
    runs the command its flag names (MODES), with the options given."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)  # the order they are defined in, not alphabetical

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Each command's own help, with the flag that is the same as it.
        rows = []
        limit = formatter.width - 6 - max(map(len, self.commands))
        for name, command in self.commands.items():
            if name in MODES:
                text = f"{command.get_short_help_str(200).rstrip('.')} ({MODES[name]})."
            else:
                text = command.get_short_help_str(limit)
            rows.append((name, text))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # Commands first, then the mode flags apart from the options they share, so that
        # the two ways to choose a mode read as the same list; a flag's help is its
        # command's.
        self.format_commands(ctx, formatter)
        modes: list[tuple[str, str]] = []
        others: list[tuple[str, str]] = []
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record is None:
                continue
            if param.name in MODES:
                command = self.commands[param.name]
                modes.append((record[0], f"The {param.name} command: "
                                         f"{command.get_short_help_str(200)}"))
            else:
                others.append(record)
        with formatter.section("Modes as flags (each the same as its command)"):
            formatter.write_dl(modes)
        with formatter.section("Options"):
            formatter.write_dl(others)


@click.group(cls=_Cli, invoke_without_command=True, subcommand_metavar="[COMMAND [ARGS]...]",
             context_settings={"help_option_names": ["-h", "--help"]})
# The mode flags' help is their command's (_Cli.format_options).
@click.option("-m", "--monitor", is_flag=True)
@click.option("-a", "--alerts", is_flag=True)
@click.option("-t", "--selftest", is_flag=True)
@click.option("-r", "--report", is_flag=True)
@click.option("--purge", type=_Days(), metavar="DAYS")
@click.option("--validate", is_flag=True)
@click.option("-c", "--config", "config_path", default="config.json", show_default=True,
              metavar="FILE", help="Config file.")
@click.option("-db", "--database", "db_path", default="monitoring.db", show_default=True,
              metavar="FILE", help="SQLite database file.")
@click.option("-s", "--silent", is_flag=True, help="With -m: monitor without printing.")
@click.option("--once", is_flag=True, help="With -r: print the stats once and exit.")
@click.option("--all", "all_rows", is_flag=True,
              help="With -r: the tables list every monitor, however many.")
@click.option("--rows", type=click.IntRange(min=1), metavar="N",
              help=f"With -r: the tables list every monitor up to N (default {ROWS}); of"
                   " more, a summary and the worst.")
@click.option("--no-follow", is_flag=True,
              help="With -a: print the history and exit instead of following it.")
@click.option("--plain", is_flag=True,
              help="With -m or -r on a terminal: appended tables, not the live view.")
@click.option("--web", metavar="[ADDR]", is_flag=False, flag_value=DEFAULT_LISTEN,
              help=f"With -m: also serve the web API, on ADDR (default {DEFAULT_LISTEN}).")
@click.option("--public-read", is_flag=True,
              help="With -m --web: anonymous clients may read what a status page shows.")
@click.option("--trusted-proxy", metavar="ADDR",
              help="With -m --web: the address of a reverse proxy in front (TLS): its"
                   " X-Forwarded-For, -Proto, -Host and -Port are believed; needs apiTokens.")
@click.option("--no-color", is_flag=True, help="No colour (also: the NO_COLOR variable).")
@click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors.")
# The program's name as the user typed it: monitoringApp.py, monitoringApp, uptime-monitor.
@click.version_option(__version__, "--version", message="%(prog)s, version %(version)s")
@click.pass_context
def main(ctx: click.Context, monitor: bool, alerts: bool, selftest: bool, report: bool,
         purge: float | None, validate: bool, config_path: str, db_path: str, silent: bool,
         once: bool, all_rows: bool, rows: int | None, no_follow: bool, plain: bool,
         web: str | None, public_read: bool,
         trusted_proxy: str | None, no_color: bool, debug: bool) -> None:
    """Uptime and performance monitor for websites, services and hosts.

    Choose a mode with a command (`monitoringApp.py report --once`) or with its flag
    (`monitoringApp.py -r --once`); -c, -db, --no-color and --debug also go before the
    command. Each command has its own --help.

    \b
    Examples:
      monitoringApp.py init                 write an example config.json to start from
      monitoringApp.py monitors             the monitors of config.json and their ids
      monitoringApp.py monitor              monitor what config.json lists (-m)
      monitoringApp.py monitor -c other.json -db monitoring.db
      monitoringApp.py alerts               alert history, following new alerts (-a)
      monitoringApp.py report               stats from the database of a running -m (-r)
      monitoringApp.py check                check every monitor once, now, with a trace
      monitoringApp.py check https://example.com/
      monitoringApp.py serve                the web API of the database -m writes
      monitoringApp.py monitor --web        monitor, and serve the web API (-m --web)
      monitoringApp.py selftest             self-test of the alerting (-t)
    """
    chosen = [name for name in MODES if ctx.params[name] not in (False, None)]
    if ctx.invoked_subcommand is not None:
        _before_command(ctx, ctx.invoked_subcommand, chosen)
        return
    if len(chosen) != 1:
        flags = ", ".join(MODES[name] for name in chosen) if chosen else "none"
        raise click.UsageError(
            f"choose exactly one mode of -m, -a, -t, -r, --purge, --validate (got {flags})")
    command = main.commands[chosen[0]]
    ctx.invoke(command, **_flag_options(ctx, command))


def _flag_options(ctx: click.Context, command: click.Command) -> dict[str, object]:
    """What the command its mode flag names is given: the options of its own given to the
    group (-s, --once, ...; one of another command's is an error) and the flag's value
    (--purge DAYS). The options every command shares it reads from the group itself."""
    takes = {param.name for param in command.params}
    options: dict[str, object] = {}
    for name in COMMAND_OPTIONS:
        if not ctx.params[name]:
            continue
        if name not in takes:
            flags = sorted(MODES[mode] for mode in MODES
                           if name in {p.name for p in main.commands[mode].params})
            raise click.UsageError(f"{_flag(ctx, name)} only goes with " + " or ".join(flags))
        options[name] = ctx.params[name]
    value = ctx.params[command.name or ""]
    if value is not True:  # --purge DAYS: the command's argument
        (argument,) = [p.name for p in command.params if isinstance(p, click.Argument)]
        options[str(argument)] = value
    return options


def _flag(ctx: click.Context, name: str) -> str:
    """The group's option `name` as the user writes it, by its first spelling (-s)."""
    return next(param.opts[0] for param in ctx.command.params if param.name == name)


def _before_command(ctx: click.Context, command: str, chosen: list[str]) -> None:
    """The group's own options given before a command: only the shared ones apply."""
    if chosen:
        raise click.UsageError(f"choose one mode: the command {command} or "
                               f"{', '.join(MODES[name] for name in chosen)}, not both")
    for name in COMMAND_OPTIONS:
        if ctx.params[name]:
            raise click.UsageError(f"{_flag(ctx, name)} goes after the command: {command}"
                                   f" {_flag(ctx, name)}")


def _given(ctx: click.Context, name: str, value: object) -> bool:
    """Whether a shared option was given, to the command or to the group before it."""
    return value is not None or (ctx.find_root().get_parameter_source(name)
                                 != click.core.ParameterSource.DEFAULT)


# The subcommands. Their -c, -db, --no-color and --debug default to the group's, so that
# both `-db x.db report` and `report -db x.db` work.

def _config_option(help_text: str = "Config file (default: config.json).") -> Callable[[F], F]:
    return click.option("-c", "--config", "config_path", metavar="FILE", help=help_text)


def _database_option(function: F) -> F:
    return click.option("-db", "--database", "db_path", metavar="FILE",
                        help="SQLite database file (default: monitoring.db).")(function)


def _no_color_option(function: F) -> F:
    return click.option("--no-color", is_flag=True,
                        help="No colour (also: the NO_COLOR variable).")(function)


def _debug_option(function: F) -> F:
    return click.option("--debug", is_flag=True,
                        help="Show tracebacks of unexpected errors.")(function)


# -db on a command without a database (-c too on selftest), hidden: a user may give any
# command the flags of the monitor's command line, as --validate accepts -db; selftest
# then says why they do not apply rather than "no such option '-d'".
_hidden_database = click.option("-db", "--database", "db_path", hidden=True)
_hidden_config = click.option("-c", "--config", "config_path", hidden=True)


_READER_CONFIG = "Accepted and ignored: this reads the database, not the config."


def _shared(ctx: click.Context, name: str, value: object) -> object:
    """A shared option's value: the command's own if given, else the group's."""
    return value if value not in (None, False) else ctx.find_root().params[name]


@main.command("monitor")
@_config_option()
@_database_option
@click.option("-s", "--silent", is_flag=True, help="Monitor without printing.")
@click.option("--plain", is_flag=True,
              help="On a terminal: appended tables, not the live view.")
@click.option("--web", metavar="[ADDR]", is_flag=False, flag_value=DEFAULT_LISTEN,
              help=f"Also serve the web API, on ADDR (default {DEFAULT_LISTEN}).")
@click.option("--public-read", is_flag=True,
              help="With --web: anonymous clients may read what a status page shows.")
@click.option("--trusted-proxy", metavar="ADDR",
              help="With --web: the address of a reverse proxy in front (TLS): its"
                   " X-Forwarded-For, -Proto, -Host and -Port are believed; needs apiTokens.")
@_no_color_option
@_debug_option
@click.pass_context
def monitor_command(ctx: click.Context, config_path: str | None, db_path: str | None,
                    silent: bool, plain: bool, web: str | None, public_read: bool,
                    trusted_proxy: str | None, no_color: bool, debug: bool) -> None:
    """Monitor what the config file lists and print stats.

    With --web, the same process also serves the web API (as `serve` does), on loopback
    unless ADDR says otherwise; beyond loopback only with apiTokens in the config.
    """
    if public_read and web is None:
        raise click.UsageError("--public-read goes with --web", ctx)
    if trusted_proxy and web is None:
        raise click.UsageError("--trusted-proxy goes with --web", ctx)
    _mode(ctx, "monitor", config_path, db_path, debug, silent=silent, plain=plain,
          no_color=no_color, web=web, public_read=public_read, trusted_proxy=trusted_proxy)



@main.command("alerts")
@_database_option
@click.option("--no-follow", is_flag=True,
              help="Print the history and exit instead of following it.")
@_config_option(_READER_CONFIG)
@_debug_option
@click.pass_context
def alerts_command(ctx: click.Context, db_path: str | None, no_follow: bool,
                   config_path: str | None, debug: bool) -> None:
    """Print the alert and recovery history, then follow it."""
    _mode(ctx, "alerts", config_path, db_path, debug, no_follow=no_follow)


@main.command("report")
@_database_option
@click.option("--once", is_flag=True, help="Print the stats once and exit.")
@click.option("--plain", is_flag=True,
              help="On a terminal: appended tables, not the live view.")
@click.option("--all", "all_rows", is_flag=True,
              help="The tables list every monitor, however many.")
@click.option("--rows", type=click.IntRange(min=1), metavar="N",
              help=f"The tables list every monitor up to N (default {ROWS}); of more, a"
                   " summary and the worst.")
@_no_color_option
@_config_option(_READER_CONFIG)
@_debug_option
@click.pass_context
def report_command(ctx: click.Context, db_path: str | None, once: bool, plain: bool,
                   all_rows: bool, rows: int | None, no_color: bool,
                   config_path: str | None, debug: bool) -> None:
    """Print the stats from the database a monitor writes.

    The tables (not on a terminal, or with --once or --plain) list every monitor up to
    --rows of them; of more, each leads with a summary (counts by state, checks,
    availability) and lists the worst: down now, lowest availability, slowest p99.
    """
    if all_rows and rows is not None:
        raise click.UsageError("--all lists every monitor: --rows does not apply", ctx)
    _mode(ctx, "report", config_path, db_path, debug, once=once, plain=plain,
          no_color=no_color, rows=None if all_rows else rows or ROWS)


@main.command("check")
@click.argument("names", nargs=-1, metavar="[NAME|URL]...")
@_config_option()
@_debug_option
@_database_option
@click.pass_context
def check_command(ctx: click.Context, names: tuple[str, ...], config_path: str | None,
                  debug: bool, db_path: str | None) -> None:
    """Check monitors once, now, and print how each check went.

    Checks every monitor of the config file, or those whose id, name or target is given;
    an http(s) URL that is not in the config is checked with the default settings. Needs
    no database (push monitors are read from it: their pushes and generated token). Exit
    0 when every one is up, 1 otherwise.
    """
    debug = bool(_shared(ctx, "debug", debug))
    # URLs alone need no config file, unless one was named (here or before the command).
    before = ctx.find_root().get_parameter_source("config_path")
    explicit = config_path is not None or before != click.core.ParameterSource.DEFAULT
    path = str(_shared(ctx, "config_path", config_path))

    def run() -> None:
        from monitor.cli.check import beside, run_checks, select

        # Beside the database: push monitors' tokens and pushes are read from it.
        monitors = beside(select(path, names, explicit, ctx), str(_shared(ctx, "db_path",
                                                                          db_path)))
        sys.exit(0 if run_checks(monitors, click.echo, debug=debug) else 1)

    guarded(debug, run)


@main.command("selftest")
@_debug_option
@_hidden_config
@_hidden_database
@click.pass_context
def selftest_command(ctx: click.Context, debug: bool, config_path: str | None,
                     db_path: str | None) -> None:
    """Self-test the alerting against a throwaway local server."""
    # Given here or before the command (or with -t): the same error both ways.
    if _given(ctx, "db_path", db_path):
        raise click.UsageError("selftest (-t) uses a throwaway database; -db does not apply",
                               ctx)
    if _given(ctx, "config_path", config_path):
        raise click.UsageError("-c does not apply to selftest (-t)", ctx)
    _mode(ctx, "selftest", None, None, debug)


@main.command("validate")
@_config_option()
@_debug_option
@_hidden_database
@click.pass_context
def validate_command(ctx: click.Context, config_path: str | None, debug: bool,
                     db_path: str | None) -> None:
    """Check the config file, then exit."""
    _mode(ctx, "validate", config_path, None, debug)


@main.command("monitors")
@click.option("--json", "as_json", is_flag=True, help="One JSON list, for scripts.")
@_config_option()
@_database_option
@_debug_option
@click.pass_context
def monitors_command(ctx: click.Context, as_json: bool, config_path: str | None,
                     db_path: str | None, debug: bool) -> None:
    """List the monitors, with the ids other commands take.

    For each monitor of the config file: id, name, kind, target, interval. The id (or
    the name, or the target) is what `check` and `maintenance` take. With a database
    (monitoring.db, or -db), each monitor's state as the monitor last recorded it: up,
    warning, down, maintenance, or - when it has no check yet.
    """
    config = str(_shared(ctx, "config_path", config_path))
    explicit = db_path is not None or (ctx.find_root().get_parameter_source("db_path")
                                       != click.core.ParameterSource.DEFAULT)
    db = str(_shared(ctx, "db_path", db_path))

    def run() -> None:
        from monitor.cli.monitors import show, states
        from monitor.config import load_config

        monitors = load_config(config).monitors
        show(monitors, states(db, explicit), as_json, click.echo)

    guarded(bool(_shared(ctx, "debug", debug)), run)


@main.command("init")
@_config_option("File to write (default: config.json).")
@_debug_option
@_hidden_database
@click.pass_context
def init_command(ctx: click.Context, config_path: str | None, debug: bool,
                 db_path: str | None) -> None:
    """Write an example config file to start from.

    One monitor of each common kind, on this machine or example.com, valid as written.
    Never overwrites a file. The file is readable by its owner only: credentials and
    notification URLs go in it.
    """
    path = str(_shared(ctx, "config_path", config_path))
    program = ctx.find_root().info_name or "monitoringApp.py"

    def run() -> None:
        from monitor.cli.init_config import write_example

        write_example(path, program, click.echo)

    guarded(bool(_shared(ctx, "debug", debug)), run)


@main.command("purge")
@click.argument("days", type=_Days())
@_database_option
@_config_option(_READER_CONFIG)
@_debug_option
@click.pass_context
def purge_command(ctx: click.Context, days: float, db_path: str | None,
                  config_path: str | None, debug: bool) -> None:
    """Delete data older than DAYS days, then exit.

    Deletes the checks and alerts older than DAYS days (more than 0, at most 36500), but
    not each monitor's latest alert, warning and flapping rows: the alert state a restart
    needs.
    """
    _mode(ctx, "purge", config_path, db_path, debug, purge_days=days)


@main.command("serve")
@click.option("--listen", metavar="ADDR", default=DEFAULT_LISTEN, show_default=True,
              help="The address to listen on (HOST:PORT); beyond loopback only with"
                   " apiTokens in the config.")
@click.option("--public-read", is_flag=True,
              help="Anonymous clients may read what a status page shows.")
@click.option("--trusted-proxy", metavar="ADDR",
              help="The address of a reverse proxy in front (TLS): its X-Forwarded-For,"
                   " -Proto, -Host and -Port are believed; needs apiTokens.")
@_config_option()
@_database_option
@_debug_option
@click.pass_context
def serve_command(ctx: click.Context, listen: str, public_read: bool,
                  trusted_proxy: str | None, config_path: str | None, db_path: str | None,
                  debug: bool) -> None:
    """Serve the web API of the database a monitor writes.

    Beside a running `monitor` (-m) on the same config file and database, or alone over
    the database: the REST API at /api/v1 (described at /api/v1/openapi.json). Changes
    made through the API are written to the config file, which the monitor reloads.
    """
    config = str(_shared(ctx, "config_path", config_path))
    db = str(_shared(ctx, "db_path", db_path))

    def run() -> None:
        from monitor.cli.serve import WebOptions, run_serve

        def err(message: str) -> None:
            click.echo(message, err=True)

        run_serve(config, db, WebOptions(listen, public_read, trusted_proxy), click.echo, err)

    guarded(bool(_shared(ctx, "debug", debug)), run)

main.add_command(notify_group)  # notify test [NAME]
main.add_command(maintenance_group)  # maintenance on|off NAME..., maintenance list
main.add_command(logs_command)  # logs [FILE|-], the access-log monitor
main.add_command(schema_command)  # schema: the JSON Schema of config.json
main.add_command(agent_command)  # agent --server URL --location NAME: checks from elsewhere
main.add_command(migrate_command)  # migrate --to postgresql://...: the history into PostgreSQL


def _mode(ctx: click.Context, mode: str, config_path: str | None, db_path: str | None,
          debug: bool, silent: bool = False, once: bool = False, no_follow: bool = False,
          plain: bool = False, no_color: bool = False, purge_days: float | None = None,
          web: str | None = None, public_read: bool = False,
          trusted_proxy: str | None = None, rows: int | None = ROWS) -> None:
    """A command runs the same code as its flag, with the group's shared options filled in."""
    config = str(_shared(ctx, "config_path", config_path))
    db = str(_shared(ctx, "db_path", db_path))
    no_color = bool(_shared(ctx, "no_color", no_color))
    guarded(bool(_shared(ctx, "debug", debug)),
             lambda: _run(mode, config, db, silent, once, no_follow, purge_days,
                          _display(plain, no_color, rows), web, public_read, trusted_proxy))


def _display(plain: bool, no_color: bool, rows: int | None = ROWS) -> Display:
    """The live view on a terminal; elsewhere (a pipe, a file, a journal) or with --plain,
    plain tables, fitted to COLUMNS when it is set (or to the terminal, with --plain)."""
    terminal = sys.stdout.isatty()
    width = None
    if os.environ.get("COLUMNS", "").isdigit() or terminal:
        width = max(20, shutil.get_terminal_size().columns)
    return Display(live=terminal and not plain, color=not no_color, width=width, rows=rows)


def _run(mode: str, config_path: str, db_path: str, silent: bool, once: bool,
         no_follow: bool, purge_days: float | None, display: Display,
         web: str | None = None, public_read: bool = False,
         trusted_proxy: str | None = None) -> None:
    echo = click.echo

    def err(message: str) -> None:
        click.echo(message, err=True)

    if mode == "validate":
        from monitor.config import load_config

        config = load_config(config_path)
        echo(f"{config_path}: OK, {len(config.monitors)} monitor(s)")
    elif mode == "monitor":
        from monitor.cli.modes import run_monitor
        from monitor.cli.serve import WebOptions

        options = None if web is None else WebOptions(web, public_read, trusted_proxy)
        if not run_monitor(config_path, db_path, silent, echo, err, display=display,
                           web=options):
            # Stopped, everything committed and closed, but stdout is a pipe nobody reads:
            # the interpreter's exit would flush it and wait forever.
            sys.stderr.flush()
            os._exit(0)
    elif mode == "report":
        from monitor.cli.report import run_report  # the reading side alone: see its module

        if not run_report(db_path, echo, once, display=display):
            os._exit(0)  # as for -m: the terminal does not take the last frame
    elif mode == "alerts":
        from monitor.cli.modes import follow_alerts, reader_gone

        follow_alerts(db_path, echo, follow=not no_follow,
                      gone=lambda: reader_gone(sys.stdout))
    elif mode == "purge":
        from monitor.cli.modes import purge

        checks, alerts = purge(db_path, purge_days)  # type: ignore[arg-type]
        echo(f"Purged {checks} check(s) and {alerts} alert(s) older than {purge_days:g} day(s) "
             f"from {db_path}.")
    elif mode == "selftest":
        from monitor.cli.selftest import run_selftest

        sys.exit(0 if run_selftest(echo) else 1)
