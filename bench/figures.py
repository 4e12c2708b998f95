"""The figures a bench prints: one JSON line each, in bench.run's shape (figure, value,
unit, details), and those with a target judged against it.

Kept apart from bench.run, which imports the monitor's own modules: a bench that measures
the real program from outside imports nothing of it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

FIGURES: list[dict] = []


def figure(name: str, value: float, unit: str, **extra: Any) -> dict:
    entry = {"figure": name, "value": _round(value), "unit": unit, **extra}
    FIGURES.append(entry)
    return entry


def judged(name: str, value: float, unit: str, target: float, most: bool = True,
           **extra: Any) -> dict:
    """A figure with its target: at most `target` (`most`), else at least. `ratio_to_target`
    is value / target; `meets` says whether the target holds."""
    ratio = value / target if target else float("nan")
    meets = (value <= target) if most else (value >= target)
    return figure(name, value, unit, target=target, target_is="at most" if most else "at least",
                  ratio_to_target=_round(ratio), meets=bool(meets and not math.isnan(value)),
                  **extra)


def _round(value: float) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None  # JSON has no NaN: a figure that could not be measured is null
    return round(value, 3)


def print_table(rows: Sequence[tuple[str, ...]]) -> None:
    if not rows:
        return
    width = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print()
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, width, strict=True)).rstrip())


def print_figures() -> None:
    for entry in FIGURES:
        print(json.dumps(entry), flush=True)
