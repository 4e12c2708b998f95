"""`monitors`: the monitors of the config file, with the ids every other command takes
(`check`, `maintenance on`), and each one's state when there is a database; and the
closest ids, names and targets to a name that matches none, for every command's error.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from monitor.core.model import Monitor
from monitor.core.timefmt import format_seconds

Echo = Callable[[str], None]
MAX_CLOSEST = 5
NO_STATE = "-"  # no database, or no check of the monitor in it
COLUMNS = ("ID", "NAME", "KIND", "TARGET", "INTERVAL", "STATE")


def closest(name: str, monitors: Iterable[Monitor], limit: int = MAX_CLOSEST) -> list[str]:
    """The ids, names and targets nearest to `name`: those that contain it (any case)
    first, then those difflib finds close, each once."""
    candidates = list(dict.fromkeys(
        text for m in monitors for text in (m.id, m.name, m.target) if text))
    folded = name.casefold()
    found = [text for text in candidates if folded and folded in text.casefold()]
    found += difflib.get_close_matches(name, candidates, n=limit, cutoff=0.6)
    return list(dict.fromkeys(found))[:limit]


def unknown(name: str, monitors: Sequence[Monitor], where: str, hint: str) -> str:
    """The one-line message for a name that is no monitor's id, name or target."""
    near = closest(name, monitors)
    if near:
        tail = "; closest: " + ", ".join(repr(text) for text in near)
    else:
        tail = "; `monitors` lists them" if monitors else ""
    return f"no monitor {name!r}{where}: {hint}{tail}"


def states(db_path: str, explicit: bool) -> dict[str, str] | None:
    """Each monitor's state as the database records it: down, maintenance, warning, up;
    None when there is no database (an error when one was named and is missing)."""
    from monitor.store.open import open_reader

    if not explicit and not Path(db_path).exists():
        return None
    reader = open_reader(db_path)
    try:
        recorded = reader.monitor_states()
        warnings = reader.warnings()
        maintenance = reader.in_maintenance()
        ever_up = reader.ever_up()
    finally:
        reader.close()
    out: dict[str, str] = {}
    for monitor_id in {*recorded, *ever_up, *maintenance}:
        down_since = recorded.get(monitor_id, (None, None))[1]
        if monitor_id in maintenance:
            out[monitor_id] = "maintenance"
        elif down_since is not None:
            out[monitor_id] = "down"
        elif monitor_id in warnings:
            out[monitor_id] = "warning"
        else:
            out[monitor_id] = "up"
    return out


def rows(monitors: Sequence[Monitor], state: dict[str, str] | None) -> list[dict[str, object]]:
    return [{"id": m.id, "name": m.name, "kind": m.kind, "target": m.target,
             "interval": m.interval,
             **({} if state is None else {"state": state_of(m, state)})} for m in monitors]


def state_of(monitor: Monitor, state: dict[str, str]) -> str | None:
    """A monitor's state: "paused" when its config says so (its last check's state is
    old news), else as the database records it."""
    return "paused" if monitor.paused else state.get(monitor.id)


def show(monitors: Sequence[Monitor], state: dict[str, str] | None, as_json: bool,
         echo: Echo) -> None:
    """The monitors, as a table or (with `as_json`) one JSON list."""
    if as_json:
        echo(json.dumps(rows(monitors, state), ensure_ascii=False, indent=2))
        return
    table = [[m.id, m.name or "-", m.kind, m.target, format_seconds(m.interval),
              NO_STATE if state is None else state_of(m, state) or NO_STATE] for m in monitors]
    header = list(COLUMNS if state is not None else COLUMNS[:-1])
    table = [row[:len(header)] for row in table]
    widths = [max(len(row[i]) for row in [header, *table]) for i in range(len(header))]
    for row in [header, *table]:
        echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
             .rstrip())
