"""`maintenance on|off NAME...` and `maintenance list`: put monitors in maintenance from
the command line, take them out, and show which are (by hand or by their config windows).

The state is kept in the database, written and read through monitor.maintenance (which
the engine asks too), so a running `-m` picks it up (it reads it every quarter second; a
maintenance begins half a second after the command) and a restart keeps it. A site's
plugged monitors (`<site id>/<kind>`) go with it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import click

from monitor.cli.errors import guarded

Echo = Callable[[str], None]


class Duration(click.ParamType):
    name = "duration"

    def convert(self, value: object, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        from monitor.maintenance import duration_of

        if isinstance(value, float):
            return value
        try:
            return duration_of(str(value))
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


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
    from monitor.maintenance import Maintenance

    monitors = load_config(config_path).monitors
    chosen = []
    for name in names:
        found = [m for m in monitors if name in (m.id, m.target, m.name)]
        if not found:
            raise click.UsageError(unknown(name, monitors, f" in {config_path}",
                                           "give a monitor's id, name or target"), ctx)
        chosen += found
    for change in Maintenance(monitors).switch(db_path, chosen, on, duration):
        click.echo(change.line)


def show(config_path: str, db_path: str, echo: Echo) -> None:
    """Each monitor in maintenance now or with windows, and how."""
    from monitor.config import load_config
    from monitor.maintenance import Maintenance
    from monitor.store.open import open_reader

    maintenance = Maintenance(load_config(config_path).monitors)
    reader = open_reader(db_path)
    try:
        maintenance.read(reader)
    finally:
        reader.close()
    lines = [status.line for status in maintenance.statuses()]
    for line in lines or ["no monitor is in maintenance or has maintenance windows"]:
        echo(line)
