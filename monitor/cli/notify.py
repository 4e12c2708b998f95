"""`notify test [NAME]`: send a test message to one or all notification providers of the
config, at once and directly (not through the outbox), and say how each went.

Imports of the config and of apprise are deferred to the command: `--help` stays cheap.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import click

from monitor.cli.errors import guarded
from monitor.core.errors import ConfigError

if TYPE_CHECKING:
    from monitor.notify.send import Provider

Echo = Callable[[str], None]


@click.group("notify")
def notify_group() -> None:
    """Notification providers (the config's `notify` list)."""


@notify_group.command("test")
@click.argument("name", required=False)
@click.option("-c", "--config", "config_path", metavar="FILE",
              help="Config file (default: config.json).")
@click.option("--timeout", type=click.FloatRange(0.1, 300), default=10.0, show_default=True,
              help="Seconds to wait for each connection and each answer.")
@click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors.")
@click.pass_context
def notify_test_command(ctx: click.Context, name: str | None, config_path: str | None,
                        timeout: float, debug: bool) -> None:
    """Send a test message to the provider NAME, or to every provider.

    Prints one line per provider; exit 0 when every one took the message, 1 otherwise.
    """
    root = ctx.find_root().params
    path = config_path or str(root.get("config_path") or "config.json")

    def run() -> None:
        from monitor.config import load_config

        providers = load_config(path).providers
        if not providers:
            raise ConfigError(f"{path}: no notification providers (add a \"notify\" list of"
                              " {\"name\", \"url\"})")
        sys.exit(run_test(providers, [name] if name else None, click.echo, timeout, ctx,
                          path))

    guarded(debug or bool(root.get("debug")), run)


def run_test(providers: Sequence[Provider], names: Sequence[str] | None, echo: Echo,
             timeout: float = 10.0, ctx: click.Context | None = None,
             source: str = "config.json") -> int:
    """Test the providers (`names`, or all) and print a line for each: the exit code, 0
    when every one took the message. An unknown name is a usage error."""
    from monitor.notify.send import UnknownProvider, notify_test

    try:
        results = notify_test(providers, names, timeout)
    except UnknownProvider as exc:
        unknown = ", ".join(repr(n) for n in exc.names)
        raise click.UsageError(f"no provider {unknown} in {source}: the providers are "
                               f"{', '.join(exc.known)}", ctx) from None
    shown = {p.name: p.shown for p in providers}
    for name, error in results:
        echo(f"{name} ({shown[name]}): " + ("sent" if error is None else f"failed: {error}"))
    return 0 if all(error is None for _, error in results) else 1
