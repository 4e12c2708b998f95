"""How `-m` and `-r` show the stats, as the command line chose it (a module of its own, so
that the command line imports nothing heavier to say it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Display:
    """The live view (a terminal) or plain tables fitted to `width` characters (None: every
    column), with or without colour."""

    live: bool = False
    color: bool = True
    width: int | None = None
