"""How `-m` and `-r` show the stats, as the command line chose it (a module of its own, so
that the command line imports nothing heavier to say it)."""

from __future__ import annotations

from dataclasses import dataclass

# A table of up to this many monitors lists every one (a screenful: a demanding user reads
# 50 rows, not 100,000); of more, it leads with a summary and lists the worst.
ROWS = 50


@dataclass(frozen=True)
class Display:
    """The live view (a terminal) or plain tables fitted to `width` characters (None: every
    column), with or without colour; the plain tables list every monitor when they are at
    most `rows` (None: however many, `--all`)."""

    live: bool = False
    color: bool = True
    width: int | None = None
    rows: int | None = ROWS
