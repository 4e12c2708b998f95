"""The reads of the days' uptime packed 32 days a row (`uptime_days`, as in SQLite: see
monitor.store.sqlite.uptime), and the sums by UTC day of any tiers' rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from monitor.store.api import Range
from monitor.store.postgres.windows import RANGES, range_params
from monitor.store.sqlite.uptime import DAYS_PER_ROW, PERIOD, SEEK_SHARE

_RANGE = ("SELECT monitor, start, counts FROM uptime_days WHERE start >= %s::bigint"
          " AND start < %s::bigint")
# A seek per monitor and row start.
_RANGE_OF = ("SELECT u.monitor, u.start, u.counts FROM unnest(%s::text[]) m(monitor)"
             " CROSS JOIN unnest(%s::bigint[]) p(start) JOIN uptime_days u"
             " ON u.start = p.start AND u.monitor = m.monitor")
# Monitor by monitor, a seek per range (as windows.py reads a window's rows).
_DAY_SUMS = (
    "SELECT s.monitor, t.* FROM unnest(%(ids)s::text[]) s(monitor) CROSS JOIN LATERAL ("
    " SELECT a.start / 86400 * 86400 AS day, sum(a.checks)::bigint, sum(a.up)::bigint"
    f" FROM {RANGES} JOIN aggregates a ON a.monitor = s.monitor AND a.span = r.span"
    " AND a.start >= r.lo AND a.start < r.hi GROUP BY a.start / 86400) t")


def read(conn: Any, monitor_ids: Sequence[str], first: int, end: int,
         every: bool = False) -> np.ndarray:
    """The (checks, up) of each monitor of `monitor_ids` and day from `first` to `end`
    (whole days): an array [monitor, day, 2], zeros where nothing is stored. `every`: they
    are every monitor there is."""
    lo = first // PERIOD * PERIOD
    periods = max(0, -(-(end - lo) // PERIOD))
    out = np.zeros((len(monitor_ids), periods, DAYS_PER_ROW * 2), dtype="<u4")
    index = {monitor_id: i for i, monitor_id in enumerate(monitor_ids)}
    if every or len(monitor_ids) > SEEK_SHARE * _monitors(conn):
        rows = [row for row in conn.execute(_RANGE, (lo, end)) if row[0] in index]
    else:
        rows = conn.execute(_RANGE_OF, (list(monitor_ids),
                                        list(range(lo, end, PERIOD)))).fetchall()
    if rows:
        monitors = np.fromiter((index[m] for m, _s, _c in rows), np.intp, len(rows))
        starts = np.fromiter(((s - lo) // PERIOD for _m, s, _c in rows), np.intp, len(rows))
        out[monitors, starts] = np.frombuffer(b"".join([bytes(c) for _m, _s, c in rows]),
                                              dtype="<u4").reshape(len(rows), -1)
    days = out.reshape(len(monitor_ids), periods * DAYS_PER_ROW, 2)
    skip = (first - lo) // 86400
    return days[:, skip:skip + (end - first) // 86400]


def _monitors(conn: Any) -> int:
    return int(conn.execute("SELECT count(*) FROM monitor_state").fetchone()[0])


def day_sums(conn: Any, monitor_ids: Sequence[str], ranges: Sequence[Range],
             ) -> list[tuple[str, int, int, int]]:
    """(monitor, day start, checks, up) of the rows of `ranges`, summed by UTC day."""
    if not ranges or not monitor_ids:
        return []
    return conn.execute(_DAY_SUMS, {**range_params(ranges), "ids": list(monitor_ids)},
                        ).fetchall()
