"""How the command line ends on an error: one `Error: ...` line on stderr and an exit code
(2 configuration or usage, 1 runtime), never a traceback unless --debug; quietly when the
reader of the output went away. Every command runs its work through `guarded`."""

from __future__ import annotations

import os
import shlex
import signal
import sys
from collections.abc import Callable

import click

from monitor.core.errors import ConfigError, ConfigNotFound, MonitorError

# `git log | head` and every other Unix tool end by SIGPIPE when their reader goes away,
# which a shell reports as 128 + 13: a script with `set -o pipefail` sees the same from us.
BROKEN_PIPE_EXIT = 128 + signal.SIGPIPE


def fail(message: str, code: int) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(code)


def quiet_stdout() -> None:
    """After a BrokenPipeError, point stdout at /dev/null, so that the interpreter's final
    flush of what is still buffered does not fail again (Python docs, "Note on SIGPIPE")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real stdout (click's test runner): nothing to flush
        pass


def missing_config_hint(path: str = "config.json") -> str:
    """What to do when the config file is missing: name another, or write an example
    there (`init` writes config.json unless given -c)."""
    ctx = click.get_current_context(silent=True)
    program = (ctx.find_root().info_name if ctx is not None else None) or "monitoringApp.py"
    where = "" if path == "config.json" else f" -c {shlex.quote(path)}"
    return f"name another with -c FILE, or write an example one with `{program} init{where}`"


def guarded(debug: bool, action: Callable[[], None]) -> None:
    """Run a mode, turning its errors into one `Error: ...` line and an exit code."""
    try:
        action()
    except ConfigNotFound as exc:
        fail(f"{exc} ({missing_config_hint(exc.path)})", 2)
    except ConfigError as exc:
        fail(str(exc), 2)
    except MonitorError as exc:
        fail(str(exc), 1)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        # The reader of the output went away (`-a | head -1`): end quietly, as `git log |
        # head` does (-m has stopped and committed everything by now).
        quiet_stdout()
        sys.exit(BROKEN_PIPE_EXIT)
    except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
        raise  # a usage error found by the mode itself (`check` of an unknown name)
    except Exception as exc:  # noqa: BLE001 - the one place that may hide a traceback
        if debug:
            raise
        from monitor.core.secrets import redact_known

        # A bug's message may quote a request, and so a credential: masked like all output.
        fail(redact_known(f"unexpected {type(exc).__name__}: {exc} "
                          "(run with --debug for details)"), 1)
