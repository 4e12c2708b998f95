"""`maintenance on|off NAME...` and `maintenance list`: put monitors in maintenance from
the command line, take them out, and show which are (by hand or by their config windows).

The state is kept in the database, written and read through monitor.maintenance (which
the engine asks too), so a running `-m` picks it up (it reads it every quarter second; a
maintenance begins half a second after the command) and a restart keeps it. A site's
plugged monitors (`<site id>/<kind>`) go with it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import click

from monitor.cli.errors import guarded
from monitor.core.timefmt import parse_duration

Echo = Callable[[str], None]
MAX_FOR = 366 * 86400.0


class Duration(click.ParamType):
    name = "duration"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        if isinstance(value, float):
            return value
        seconds = parse_duration(str(value)) or 0.0  # the config's durations read the same
        if not 0 < seconds <= MAX_FOR:
            self.fail(f"{value!r} is not a duration of up to a year: seconds, or a number"
                      " with s, m, h or d (90m, 2h)", param, ctx)
        return seconds


def _options(function: Callable[..., None]) -> Callable[..., None]:
    function = click.option("--debug", is_flag=True,
                            help="Show tracebacks of unexpected errors.")(function)
    function = click.option("-db", "--database", "db_path", metavar="FILE",
                            help="Database file (default: monitoring.db).")(function)
    return click.option("-c", "--config", "config_path", metavar="FILE",
                        help="Config file (default: config.json).")(function)


@click.group("maintenance")
def maintenance_group() -> None:
    """Maintenance: checks recorded, no alerts, in no availability."""


@maintenance_group.command("on")
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@click.option("--for", "duration", type=Duration(), metavar="DURATION",
              help="End it after this long (90m, 2h, 1d); default: until `off`.")
@_options
@click.pass_context
def on_command(ctx: click.Context, names: tuple[str, ...], duration: float | None,
               config_path: str | None, db_path: str | None, debug: bool) -> None:
    """Put monitors (by id, name or target) in maintenance, now."""
    _guarded(ctx, debug, lambda config, db: _set(ctx, config, db, names, True, duration))


@maintenance_group.command("off")
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@_options
@click.pass_context
def off_command(ctx: click.Context, names: tuple[str, ...], config_path: str | None,
                db_path: str | None, debug: bool) -> None:
    """Take monitors out of the maintenance set with `on` (not their config windows)."""
    _guarded(ctx, debug, lambda config, db: _set(ctx, config, db, names, False, None))


@maintenance_group.command("list")
@_options
@click.pass_context
def list_command(ctx: click.Context, config_path: str | None, db_path: str | None,
                 debug: bool) -> None:
    """Show the monitors in maintenance now, and every maintenance window."""
    _guarded(ctx, debug, lambda config, db: show(config, db, click.echo))


def _guarded(ctx: click.Context, debug: bool, action: Callable[[str, str], None]) -> None:
    """Run `action(config path, database path)`, the group's -c, -db and --debug filled in."""
    root = ctx.find_root().params
    config = ctx.params.get("config_path") or str(root.get("config_path") or "config.json")
    db = ctx.params.get("db_path") or str(root.get("db_path") or "monitoring.db")
    guarded(debug or bool(root.get("debug")), lambda: action(config, db))


def _set(ctx: click.Context, config_path: str, db_path: str, names: Sequence[str], on: bool,
         duration: float | None) -> None:
    from monitor.cli.monitors import unknown
    from monitor.config import load_config
    from monitor.core.timefmt import format_time
    from monitor.maintenance import Maintenance

    monitors = load_config(config_path).monitors
    maintenance = Maintenance(monitors)
    chosen: dict[str, str] = {}  # id -> label
    for name in names:
        found = [m for m in monitors if name in (m.id, m.target, m.name)]
        if not found:
            raise click.UsageError(unknown(name, monitors, f" in {config_path}",
                                           "give a monitor's id, name or target"), ctx)
        for monitor in found:
            for m in maintenance.group(monitor):  # the monitors its plugins made go with it
                chosen.setdefault(m.id, m.label)
    if on:
        period = maintenance.put_on(db_path, chosen, duration)
        end = "" if period.until is None else f" until {format_time(period.until)}"
        for label in chosen.values():
            click.echo(f"{label}: maintenance on{end}")
        return
    maintenance.put_off(db_path, chosen)
    for monitor_id, label in chosen.items():
        window = maintenance.window(monitor_id)
        still = "" if window is None or window.until is None else (
            f" (still in a config window until {format_time(window.until)})")
        click.echo(f"{label}: maintenance off{still}")


def show(config_path: str, db_path: str, echo: Echo) -> None:
    """Each monitor in maintenance now or with windows, and how."""
    from monitor.config import load_config
    from monitor.core.timefmt import format_time
    from monitor.maintenance import Maintenance
    from monitor.store.sqlite.queries import open_reader

    monitors = load_config(config_path).monitors
    maintenance = Maintenance(monitors)
    reader = open_reader(db_path)
    try:
        maintenance.read(reader)
    finally:
        reader.close()
    now = time.time()
    lines = []
    for m in monitors:
        parts = []
        by_hand = maintenance.by_hand(m.id, now)
        if by_hand is not None:
            parts.append("on since " + format_time(by_hand.since) + (
                "" if by_hand.until is None else f" until {format_time(by_hand.until)}"))
        window = maintenance.window(m.id, now)
        if window is not None and window.until is not None:
            parts.append(f"in a window until {format_time(window.until)}")
        parts += [f"window {w.describe()}" for w in m.rules.maintenance]
        if parts:
            lines.append(f"{m.label}: " + "; ".join(parts))
    for line in lines or ["no monitor is in maintenance or has maintenance windows"]:
        echo(line)
