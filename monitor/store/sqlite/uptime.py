"""The days' uptime packed 32 days a row (`uptime_days`): each whole UTC day's checks and
checks up of a monitor, as its day row of `aggregates` has them. 90 days of 5,000 monitors
read as 20,000 rows of 256 bytes instead of 450,000 aggregate rows with their histograms.
Written by the writer (rollups.py) when a day is rolled up whole or a late check changes a
whole day; read by summaries.py. And the sums by day of any tiers' rows, which the
counts of each monitor's day in monitor_state start from in a file older than them."""

from __future__ import annotations

import json
import sqlite3
import struct
from collections.abc import Iterable, Sequence

import numpy as np

from monitor.store.api import Range
from monitor.store.tiers import cover

DAY = 86400
DAYS_PER_ROW = 32
PERIOD = DAYS_PER_ROW * DAY
_PAIR = struct.Struct("<II")
_EMPTY = bytes(_PAIR.size * DAYS_PER_ROW)
_KEYED = ("SELECT u.monitor, u.start, u.counts FROM json_each(?) k CROSS JOIN uptime_days u"
          " ON u.start = json_extract(k.value, '$[1]')"
          " AND u.monitor = json_extract(k.value, '$[0]')")
# Monitor by monitor, a seek per range (as windows.py reads a window's rows).
_DAY_SUMS = (
    "WITH r(span, lo, hi) AS (VALUES {values})"
    " SELECT s.value, a.start / 86400 * 86400, sum(a.checks), sum(a.up)"
    " FROM json_each(?) s CROSS JOIN r CROSS JOIN aggregates a ON a.monitor = s.value"
    " AND a.span = r.span AND a.start >= r.lo AND a.start < r.hi"
    " GROUP BY s.value, a.start / 86400")
_RANGE = "SELECT monitor, start, counts FROM uptime_days WHERE start >= ? AND start < ?"
# A seek per monitor and row start (the starts as a list: after a range on the key's
# first column the second could not be sought).
_RANGE_OF = ("SELECT u.monitor, u.start, u.counts FROM json_each(?) m CROSS JOIN json_each(?) p"
             " CROSS JOIN uptime_days u ON u.start = p.value AND u.monitor = m.value")
# Below this share of the monitors, their rows are sought one by one; above, the periods'
# rows of every monitor are read in order and the others left.
SEEK_SHARE = 0.2


def set_days(conn: sqlite3.Connection, days: Iterable[tuple[str, int, int, int]]) -> None:
    """Set whole days' (monitor, day start, checks, up) in their rows."""
    slots: dict[tuple[str, int], list[tuple[int, int, int]]] = {}
    for monitor_id, day, checks, up in days:
        start = day // PERIOD * PERIOD
        slots.setdefault((monitor_id, start), []).append(((day - start) // DAY, checks, up))
    if not slots:
        return
    stored = {(m, s): counts for m, s, counts in conn.execute(
        _KEYED, (json.dumps(list(slots)),))}
    rows = []
    for key, values in slots.items():
        counts = bytearray(stored.get(key, _EMPTY))
        for slot, checks, up in values:
            _PAIR.pack_into(counts, slot * _PAIR.size, checks, up)
        rows.append((*key, bytes(counts)))
    conn.executemany("INSERT OR REPLACE INTO uptime_days (monitor, start, counts)"
                     " VALUES (?, ?, ?)", rows)


def read(conn: sqlite3.Connection, monitor_ids: Sequence[str], first: int, end: int,
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
        rows = conn.execute(_RANGE_OF, (json.dumps(list(monitor_ids)), json.dumps(
            list(range(lo, end, PERIOD))))).fetchall()
    if rows:
        # All rows at once: a numpy assignment per row cost more than the read.
        monitors = np.fromiter((index[m] for m, _s, _c in rows), np.intp, len(rows))
        starts = np.fromiter(((s - lo) // PERIOD for _m, s, _c in rows), np.intp, len(rows))
        out[monitors, starts] = np.frombuffer(b"".join([c for _m, _s, c in rows]),
                                              dtype="<u4").reshape(len(rows), -1)
    days = out.reshape(len(monitor_ids), periods * DAYS_PER_ROW, 2)
    skip = (first - lo) // DAY
    return days[:, skip:skip + (end - first) // DAY]


def _monitors(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM monitor_state").fetchone()[0]


def purge(conn: sqlite3.Connection, before: int) -> None:
    """Forget the days before `before` (a day start): rows wholly before it deleted, the
    days before it in the row that holds it zeroed."""
    start = before // PERIOD * PERIOD
    conn.execute("DELETE FROM uptime_days WHERE start < ?", (start,))
    slots = (before - start) // DAY
    if not slots:
        return
    rows = conn.execute("SELECT monitor, counts FROM uptime_days WHERE start = ?",
                        (start,)).fetchall()
    cleared = bytes(_PAIR.size * slots)
    conn.executemany("UPDATE uptime_days SET counts = ? WHERE monitor = ? AND start = ?",
                     [(cleared + counts[len(cleared):], monitor_id, start)
                      for monitor_id, counts in rows])


def day_sums(conn: sqlite3.Connection, monitor_ids: Sequence[str], ranges: Sequence[Range],
             ) -> list[tuple[str, int, int, int]]:
    """(monitor, day start, checks, up) of the rows of `ranges`, summed by UTC day."""
    if not ranges or not monitor_ids:
        return []
    return conn.execute(_DAY_SUMS.format(values=",".join(["(?,?,?)"] * len(ranges))),
                        (*[v for r in ranges for v in r], json.dumps(list(monitor_ids)))
                        ).fetchall()


def start_day_counts(conn: sqlite3.Connection, rolled_until: float,
                     blocks_since: float) -> None:
    """Fill each monitor's counts of the day of its newest check in monitor_state from its
    aggregates (a file older than them: the writer keeps them from then on)."""
    by_day: dict[int, list[str]] = {}
    for monitor_id, last_check in conn.execute("SELECT monitor, last_check FROM monitor_state"):
        by_day.setdefault(int(last_check // DAY) * DAY, []).append(monitor_id)
    for day, monitor_ids in by_day.items():
        sums = {monitor_id: (checks, up) for monitor_id, _day, checks, up in day_sums(
            conn, monitor_ids, cover(day, day + DAY, rolled_until, blocks_since))}
        conn.executemany("UPDATE monitor_state SET day_start = ?, day_checks = ?, day_up = ?"
                         " WHERE monitor = ?", [(day, *sums.get(monitor_id, (0, 0)), monitor_id)
                                                for monitor_id in monitor_ids])
