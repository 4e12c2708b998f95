"""`init`: write an example config.json for a first run, never over an existing file."""

from __future__ import annotations

import os
from collections.abc import Callable

from monitor.core.errors import ConfigError

Echo = Callable[[str], None]


def write_example(path: str, program: str, echo: Echo) -> None:
    """Write the example config to `path`, readable by its owner only (as the database):
    it is where credentials and notification URLs go. An existing file is left alone."""
    from monitor.config import parse_config
    from monitor.config.example import EXAMPLE

    monitors = parse_config(EXAMPLE, path).monitors  # never write what -m would refuse
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{path}: already exists, and init never overwrites a file "
                          "(name a new one with -c FILE)") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(EXAMPLE)
    where = "" if path == "config.json" else f" -c {path}"
    echo(f"Wrote {path}: {len(monitors)} example monitors, one of each common kind, on this"
         " machine or example.com. Edit it, then:")
    steps = [(f"{program} monitors{where}", "the monitors and their ids"),
             (f"{program} check{where}", "check each one once, now"),
             (f"{program} -m{where}", "monitor them")]
    width = max(len(command) for command, _ in steps)
    for command, what in steps:
        echo(f"  {command.ljust(width)}   {what}")
