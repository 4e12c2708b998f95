"""Which aggregate rows make up a span of time: the coarsest tiers that hold it exactly.

The tiers are the minutes (60 s, always there), the 10-minute blocks (from meta's
blocks_since; the block in progress holds everything up to now), and the hours and days
rolled up from them (hours up to the store's `rolled_until`, days up to that rounded down
to a day: the day in progress is in the hours and blocks until it has ended). A range of a
year is a year of days and a few hours, blocks and minutes at its edges: a few hundred rows
per monitor instead of tens of thousands.
"""

from __future__ import annotations

import math

from monitor.store.api import Range

MINUTE, BLOCK, HOUR, DAY = 60, 600, 3600, 86400
TIERS = (DAY, HOUR, BLOCK, MINUTE)


def cover(lo: int, hi: int, rolled_until: float, blocks_since: float, *, live: bool = False,
          coarsest: int = DAY) -> list[Range]:
    """The ranges of rows that hold exactly the checks with lo <= timestamp < hi (both
    multiples of a minute), no tier coarser than `coarsest`. `live`: nothing is stored
    after `hi` yet, so the block in progress may be taken whole."""
    rolled = int(rolled_until) // HOUR * HOUR
    valid = {DAY: (0, rolled // DAY * DAY), HOUR: (0, rolled),
             BLOCK: (int(blocks_since) * BLOCK, math.inf), MINUTE: (0, math.inf)}
    out: list[Range] = []
    _cover(lo, hi, [(span, valid[span]) for span in TIERS if span <= coarsest], live, out)
    return out


def _cover(lo: int, hi: int, tiers: list[tuple[int, tuple[float, float]]], live: bool,
           out: list[Range]) -> None:
    if lo >= hi:
        return
    (span, (first, end)), finer = tiers[0], tiers[1:]
    if not finer:
        out.append(Range(span, lo, hi))
        return
    start = -(-max(lo, first) // span) * span  # the first whole row inside
    # Live: the row in progress too (its part after hi is empty: nothing is stored yet).
    stop = -(-hi // span) * span if live and end == math.inf else min(hi, end) // span * span
    if start >= stop:
        _cover(lo, hi, finer, live, out)
        return
    # The coarse rows first, then the edges: the order sums were always added in (a float
    # sum depends on it, in its last digit).
    out.append(Range(span, int(start), int(stop)))
    _cover(lo, int(start), finer, False, out)
    _cover(int(stop), hi, finer, live, out)
