"""A log period's breakdown as a check's metrics, and back: the requests of each status
class, and the hits of the period's top sections and clients, each a metric of the `log`
kind's 10-second result (`status:2xx`, `section:/api`, `client:10.0.0.7`).

Stored as metrics, they are summed into the minute, 10-minute, hour and day rows like any
measurement, so the access-logs page reads a day of a log's top sections from a few hundred
rows, never from its raw checks. A section or client outside a period's top is not in that
period's figures: the sums over a window are exact for every name that stays among a
period's top (`top` names, 10 by default) and a lower bound for the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

STATUS, SECTION, CLIENT = "status:", "section:", "client:"
CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx", "other")
MAX_NAME = 200  # characters of a section or client kept in a metric's name


class Breakdown(NamedTuple):
    """A window's requests by status class, and its sections and clients by hits, most
    first (ties by name)."""

    statuses: dict[str, int]
    sections: list[tuple[str, int]]
    clients: list[tuple[str, int]]


def metrics(statuses: Mapping[str, int], sections: list[tuple[str, int, int]],
            clients: list[tuple[str, int]]) -> dict[str, float]:
    """The metrics of one period's report (monitor.logs.window.Report's fields)."""
    found: dict[str, float] = {f"{STATUS}{name}": float(count)
                               for name, count in statuses.items() if count}
    for prefix, named in ((SECTION, [(name, hits) for name, hits, _total in sections]),
                          (CLIENT, clients)):
        for name, hits in named:
            key = prefix + name[:MAX_NAME]
            found[key] = found.get(key, 0.0) + float(hits)  # names cut alike add up
    return found


def split(sums: Mapping[str, float], top: int) -> Breakdown:
    """The breakdown of metric sums over a window (other metrics are ignored)."""
    statuses = {name: 0 for name in CLASSES if name != "other"}
    sections: list[tuple[str, int]] = []
    clients: list[tuple[str, int]] = []
    for key, value in sums.items():
        count = round(value)
        if key.startswith(STATUS):
            name = key[len(STATUS):]
            if count or name in statuses:
                statuses[name] = count
        elif key.startswith(SECTION):
            sections.append((key[len(SECTION):], count))
        elif key.startswith(CLIENT):
            clients.append((key[len(CLIENT):], count))
    return Breakdown(statuses, _top(sections, top), _top(clients, top))


def _top(named: list[tuple[str, int]], top: int) -> list[tuple[str, int]]:
    return sorted((item for item in named if item[1] > 0),
                  key=lambda item: (-item[1], item[0]))[:top]
