"""Helpers the writer's statements share."""

from __future__ import annotations


def items(count: int) -> str:
    """The first `count` items of each JSON array of a json_each(?) parameter, as columns
    (json_extract rather than ->>, which needs SQLite 3.38)."""
    return ", ".join(f"json_extract(value, '$[{i}]')" for i in range(count))
