"""What a metrics scrape (`GET /metrics`) reads of every monitor at once, apart from any
database: each monitor's checks of the day so far, counted by reason."""

from __future__ import annotations

from typing import NamedTuple


class DayCounts(NamedTuple):
    """A monitor's checks since the start of a UTC day, as its aggregates count them."""

    checks: int  # checks up or down (the unknown ones, offline or in maintenance, aside)
    up: int
    # Rows by their reason, as website_monitoring's `reason` column has it: failures,
    # warnings (their reason after codec's "~"), skipped slots, and the unknown rows'
    # reasons (offline, maintenance). A check up without a warning has none.
    reasons: dict[str, int]
