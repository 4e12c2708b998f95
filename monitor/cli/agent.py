"""`agent --server URL --token TOKEN --location NAME`: check, from this machine, the monitors
a server (`-m --web`) assigns to a location, and post the results to it; while the server is
away, the checks wait in a local database (the outbox) and go when it is back.

The token comes from --token or, so that it is not seen in `ps`, from MONITOR_AGENT_TOKEN;
it is never printed. A URL, token or location the server cannot take ends in one `Error:`
line and exit 2.
"""

from __future__ import annotations

import re
import urllib.parse

import click

from monitor.cli.errors import guarded

TOKEN_ENV = "MONITOR_AGENT_TOKEN"
MIN_TOKEN = 16  # the server's agent tokens are at least this long
_NAME = re.compile(r"[A-Za-z0-9._-]+")


def server_url(value: str) -> str:
    """The server's base URL, checked: http or https, a host, no user or password (the
    token authenticates), no query; without its trailing slash. Raises ValueError."""
    parts = urllib.parse.urlsplit(value.strip())
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL, such as http://monitor:8080")
    if not parts.hostname:
        raise ValueError("has no host name")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not hold a user or password: the agent authenticates with"
                         " its token")
    try:
        parts.port  # noqa: B018 - raises on a port out of range or not a number
    except ValueError:
        raise ValueError("has a port that is not a number from 1 to 65535") from None
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or fragment: the base URL of the server")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"),
                                    "", ""))


def _check_server(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    try:
        return server_url(value)
    except ValueError as exc:
        # The value may hold a password: name it by its place, not by echoing it.
        raise click.BadParameter(str(exc)) from None


def _check_location(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    if not _NAME.fullmatch(value):
        raise click.BadParameter(f"{value!r}: only letters, digits, '.', '_' and '-'")
    if value == "local":
        raise click.BadParameter("'local' is the server's own location; an agent's is"
                                 " another, as its entry in the server's `agents` says")
    return value


@click.command("agent")
@click.option("--server", required=True, metavar="URL", callback=_check_server,
              help="The base URL of the monitor's web server (-m --web), such as"
                   " http://monitor.example:8080.")
@click.option("--token", envvar=TOKEN_ENV, show_envvar=True, metavar="TOKEN",
              help=f"The agent's token, as its entry in the server's `agents` gives it"
                   f" (better from {TOKEN_ENV}: an option is seen in `ps`).")
@click.option("--location", required=True, metavar="NAME", callback=_check_location,
              help="The location this agent checks from (its entry's `location`).")
@click.option("-db", "--database", "db_path", metavar="FILE",
              help="The local database, the outbox of the checks (default:"
                   " agent-LOCATION.db).")
@click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors.")
@click.pass_context
def agent_command(ctx: click.Context, server: str, token: str | None, location: str,
                  db_path: str | None, debug: bool) -> None:
    """Check a server's monitors from here, as an agent of a location.

    Fetches the monitors the server assigns to --location (polling for changes), runs
    them with the same engine as `monitor`, keeps every result in a local database and
    posts them to the server in order; while the server is away they wait, and go when it
    is back. Notifies nothing itself: the server does. SIGHUP fetches the monitors at once.
    """
    if not token:
        raise click.UsageError(f"give the agent's token with --token or {TOKEN_ENV}", ctx)
    if len(token) < MIN_TOKEN:
        raise click.UsageError(f"the token is shorter than {MIN_TOKEN} characters: not one"
                               " of the server's agent tokens", ctx)
    root = ctx.find_root()
    given = root.get_parameter_source("db_path") != click.core.ParameterSource.DEFAULT
    db = db_path or (str(root.params["db_path"]) if given else f"agent-{location}.db")

    def run() -> None:
        from monitor.agent.run import AgentOptions, Signals, run_agent
        from monitor.cli.signals import signals

        flags = Signals()
        with signals(flags.stop, flags.repoll.set, flags.force):
            run_agent(AgentOptions(server, token, location, db), click.echo, _err, flags)

    guarded(debug or bool(root.params.get("debug")), run)


def _err(text: str) -> None:
    click.echo(text, err=True)
