"""The live terminal view of `-m` and `-r`: redrawn in place like top, worst monitors first,
fitted to the terminal's width and height, in colour, with the latest alerts under it.

rich draws it (Live on the alternate screen, Table, Text): it measures the terminal on
every redraw (so a resize refits), honours NO_COLOR, and writes a whole frame at once.
Everything runs on one thread of its own, which reads the database through a read-only
connection and the keys (`q` quits, `h` switches to the past hour): a terminal that blocks
(Ctrl-S, a paused tmux pane) holds up this thread only, never a check or the writer.

A monitor checked from several locations says each one's verdict in its row ("eu down, us
up", the `locations` column): under `-m`, as the running monitor's alert rules judge each
(`runtime_locations`); under `-r`, which has the database alone, each location's latest
check of the past two minutes (`locations_from_database`).
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import termios
import threading
import time
import tty
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from monitor.core.errors import StoreError
from monitor.core.model import LOCAL, majority
from monitor.core.timefmt import format_duration
from monitor.engine.locations import (
    LocationState,
    alerting,
    location_states,
    quorum_of,
    verdict,
)
from monitor.render.display import Display
from monitor.render.report import alert_rows, monitor_labels
from monitor.render.summary import first_shown, state_of_total, summaries, summary_of
from monitor.render.view import (
    DOWN,
    GAP,
    IDLE,
    MAINTENANCE,
    UNSTABLE,
    UP,
    WARNING,
    Layout,
    fit,
    locations_text,
    shorten,
    state_of,
)
from monitor.stats import MonitorStats, state_at, window_pieces, window_start, window_stats
from monitor.store.api import Reader, WindowTotal
from monitor.store.located import LocatedCheck
from monitor.store.open import open_reader

if TYPE_CHECKING:
    from monitor.runtime import Runtime

REDRAW_EVERY = 1.0  # seconds: a monitor going down shows within a second of its check stored
# (window, its stats refreshed at least this often): the 10-minute and the hour views. More
# often when they are cheap: every STATS_SHARE-th second spent on them at most.
WINDOWS = ((600.0, 10.0), (3600.0, 60.0))
STATS_SHARE = 20
# Monitors read worst first at each refresh: a tall screen's rows and room for those whose
# state changes until the next refresh (every monitor down, warning or in maintenance then
# is read too).
WORST = 500
NEW_FOR = 10.0  # seconds an alert stays highlighted as new
MAX_ALERT_LINES = 6
STYLES = {DOWN: "bold red", WARNING: "yellow", UNSTABLE: "magenta", UP: "green",
          MAINTENANCE: "blue", IDLE: "dim"}


@dataclass(frozen=True, slots=True)
class Pulse:
    """What the header says of the monitor itself."""

    checks_per_s: float | None
    lateness_p99_ms: float | None
    write_lag_s: float | None
    lag_label: str = "write lag"
    overload: str | None = None  # what the monitor sheds while overloaded (run/overload.py)


PulseSource = Callable[[Reader, float], Pulse]
# (reader, the ids of the monitors shown, now) -> each location's state of those checked
# from several locations.
LocationSource = Callable[[Reader, list[str], float], Mapping[str, list[LocationState]]]
LOCATIONS_SPAN = 120.0  # seconds of checks -r reads for the locations' latest verdicts


def pulse_from_database(reader: Reader, now: float) -> Pulse:
    """For `-r`, which sees only the database: the checks stored in the past 10 s (skipped
    slots aside), their lateness, and how old the newest stored check is."""
    lateness, newest = reader.recent_lateness(now - 10.0)
    return Pulse(len(lateness) / 10.0, p99(lateness),
                 None if newest is None else max(0.0, now - newest), "newest check")


def _flags(total: WindowTotal) -> tuple[bool, bool, bool]:
    """(down, warning, in maintenance) when read."""
    return (total.down_since is not None, total.warning, total.maintenance)


def live_view(db: str | Path, stop: threading.Event, display: Display,
              pulse: PulseSource, locations: LocationSource | None = None) -> LiveView:
    """The view of `-m` and `-r` on this terminal, as `display` says (colour or not)."""
    # None, not False: rich then follows NO_COLOR itself.
    return LiveView(db, stop, pulse, Console(no_color=True if not display.color else None),
                    locations=locations)


class _RuntimeLocations:
    """For `-m`: each location as the running monitor's alert rules judge it (its
    evaluator's windows, its agents' lost locations), the database's rows replayed for a
    monitor it does not judge (another process's lease); `quorums`: those monitors' quorums
    of the config, for their rows' state."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.quorums: dict[str, int] = {}

    def __call__(self, reader: Reader, monitor_ids: list[str], now: float,
                 ) -> dict[str, list[LocationState]]:
        runtime = self.runtime
        config, wanted = runtime.config, set(monitor_ids)
        chosen = [m for m in config.monitors if m.id in wanted]
        self.quorums = {m.id: quorum_of(m) for m in chosen}
        return location_states(chosen, reader, now, evaluator=runtime.engine.alerts,
                               lost=runtime.agents.lost_locations, agents=config.agents,
                               agent_timeout=config.agent_timeout)


def runtime_locations(runtime: Runtime) -> LocationSource:
    """For `-m`: each location as the running monitor's alert rules judge it."""
    return _RuntimeLocations(runtime)


def locations_from_database(reader: Reader, monitor_ids: list[str], now: float,
                            ) -> dict[str, list[LocationState]]:
    """For `-r`, which has the database and not the config (nor the alert rules): of the
    monitors whose checks of the past LOCATIONS_SPAN seconds come from several locations,
    each location's latest known check's verdict, `local` first."""
    read = reader.located_checks(monitor_ids, now - LOCATIONS_SPAN, now)
    by_monitor: dict[str, dict[str, list[LocatedCheck]]] = {}
    for row in read.checks:
        by_monitor.setdefault(row.monitor_id, {}).setdefault(row.location, []).append(row)
    found: dict[str, list[LocationState]] = {}
    for monitor_id, located in by_monitor.items():
        if len(located) < 2:
            continue
        states = []
        for location in sorted(located, key=lambda name: (name != LOCAL, name)):
            rows = located[location]
            known = [row for row in rows if row.available is not None]
            last = known[-1] if known else None
            state = ("unknown" if last is None else "down" if not last.available
                     else "warning" if last.warning else UP)
            latest = rows[-1]
            states.append(LocationState(
                location, state, sum(bool(r.available) for r in known) / len(known)
                if known else None, read.since, latest.timestamp, latest.status,
                latest.response_ms, latest.reason))
        found[monitor_id] = states
    return found


def p99(values: Iterable[float]) -> float | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else None


def _pieces(pieces: list[tuple[str, str]], width: int) -> Text:
    """The pieces (text, style) that fit `width`, from the first, separated by spaces."""
    text = Text()
    for index, (words, style) in enumerate(pieces):
        piece = words if index == 0 else " " + words
        if len(text) + len(piece) > width:
            break
        text.append(piece, style=style)
    if not len(text):
        text.append(shorten(pieces[0][0], width), style=pieces[0][1])
    return text


def _foreground(fd: int) -> bool:
    try:
        return os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False


def _seconds(value: float) -> str:
    return f"{value:.1f} s" if value < 60 else format_duration(value)


class LiveView:
    """Draws the view on a thread of its own until `close`; `line` adds a message (a status
    line, a warning) to the panel under the table."""

    def __init__(self, db: str | Path, stop: threading.Event, pulse: PulseSource,
                 console: Console | None = None, keys: bool = True,
                 locations: LocationSource | None = None) -> None:
        self.db = db
        self.stop = stop
        self.pulse = pulse
        # Each location's verdict of the monitors shown checked from several: read for the
        # rows shown, again when they change, else at most every REDRAW_EVERY (more
        # seldom when the read is dear: every STATS_SHARE-th second spent on it at most).
        self._locations = locations or locations_from_database
        self._located: dict[str, str] = {}
        # Their own state: the rules' verdict on their locations (monitor_state's rule).
        self._judged: dict[str, str | None] = {}
        self._located_for: set[str] = set()
        self._next_located = 0.0
        self.console = console or Console()
        self.broken = False
        self.hung_up = False  # the terminal went away: nothing more can be shown
        self.error: str | None = None  # why the view ended on its own
        # Keys only from a terminal we are in the foreground of: `-m &` reading it, or
        # changing its mode, would be stopped by SIGTTIN/SIGTTOU, checks and all.
        self._keys = keys and sys.stdin.isatty() and _foreground(sys.stdin.fileno())
        self._saved: list | None = None  # the terminal's mode before cbreak
        self._messages: deque[tuple[float, str]] = deque(maxlen=MAX_ALERT_LINES)
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._hourly = False
        self._conn: Reader | None = None
        # The window as last read: the monitors worst first then (WORST of them), every one
        # down, warning or in maintenance then (with those flags), the counts by state;
        # the full stats and labels of those shown since, read for them alone: a frame of
        # 100,000 monitors reads what it shows.
        self._order: list[WindowTotal] = []
        self._known: dict[str, WindowTotal] = {}
        self._flags: dict[str, tuple[bool, bool, bool]] = {}
        self._counts: dict[str, int] = {}
        self._monitors = 0
        self._read_at = 0.0
        self._stats: dict[str, MonitorStats] = {}
        self._labels: dict[str, str] = {}
        self._next_stats = 0.0
        self._seen: dict[int, float] = {}  # alert id -> when this view first showed it
        self._first = True  # alerts already there when the view starts are not new
        self._since = 0.0
        self._next_at = 0.0
        self._thread = threading.Thread(target=self._run, name="live-view", daemon=True)

    def start(self) -> LiveView:
        self._thread.start()
        return self

    def line(self, text: str) -> None:
        with self._lock:
            self._messages.append((time.time(), text))

    def close(self, final: str | None, grace: float) -> bool:
        """End the view (the normal screen comes back), then print `final`; False when the
        terminal stayed blocked for `grace` seconds."""
        end = time.monotonic() + grace
        self._closed.set()
        self._thread.join(grace)
        if self._thread.is_alive():
            # Stuck writing to a terminal that does not read (paused): give it its mode
            # back from here, at once, so that the shell after us is usable.
            self._restore_terminal(termios.TCSANOW)
            return False
        if final is None or self.hung_up:
            return True
        # The last line too may meet a terminal that does not read: written by a thread of
        # its own, waited for within the same grace.
        printer = threading.Thread(target=self._print, args=(final,), daemon=True)
        printer.start()
        printer.join(max(0.0, end - time.monotonic()))
        return not printer.is_alive()

    def _print(self, text: str) -> None:
        with contextlib.suppress(OSError):
            self.console.print(text, highlight=False, soft_wrap=True)

    # -- the view thread -------------------------------------------------------------------
    def _restore_terminal(self, when: int) -> None:
        saved, self._saved = self._saved, None
        if saved is not None:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(sys.stdin.fileno(), when, saved)

    def _run(self) -> None:
        fd = sys.stdin.fileno() if self._keys else -1
        try:
            if self._keys:
                self._saved = termios.tcgetattr(fd)
                tty.setcbreak(fd)  # keys one at a time, unechoed; Ctrl-C stays a signal
            with Live(console=self.console, screen=True, auto_refresh=False,
                      redirect_stdout=False, redirect_stderr=False) as live:
                # At once, before the first read (a second at 100,000 monitors): the
                # screen is ours and says what comes.
                live.update(self.waiting(), refresh=True)
                while not (self._closed.is_set() or self.stop.is_set()):
                    try:
                        live.update(self.frame(), refresh=True)
                    except StoreError as exc:
                        # A view: a failed read (a lock, a disk error) must not stop the
                        # monitoring. Said, then read afresh at the next frame.
                        self.line(f"Warning: {exc}")
                        if self._conn is not None:
                            self._conn.close()
                            self._conn = None
                    self._wait_for_key(fd)
        except BrokenPipeError:
            self.broken = True
            self.stop.set()
        except OSError:  # EIO: the terminal is gone
            self.hung_up = True
            self.stop.set()
        except Exception as exc:  # noqa: BLE001 - said once the screen is back
            # A frozen screen would hide that nothing is shown: stop, and say why.
            self.error = f"the view failed: {exc}"
            self.stop.set()
        finally:
            self._restore_terminal(termios.TCSADRAIN)
            if self._conn is not None:
                self._conn.close()

    def _wait_for_key(self, fd: int) -> None:
        end = time.monotonic() + REDRAW_EVERY
        while not (self._closed.is_set() or self.stop.is_set()):
            left = end - time.monotonic()
            if left <= 0:
                return
            if fd < 0:
                self._closed.wait(min(left, 0.1))
                continue
            ready, _, _ = select.select([fd], [], [], min(left, 0.1))
            if not ready:
                continue
            try:
                key = os.read(fd, 1)
            except OSError:
                key = b""
            if not key:  # the terminal hung up (closed, its tmux killed): nobody to show
                self.hung_up = True
                self.stop.set()
                return
            if key in (b"q", b"Q"):
                self.stop.set()
            elif key in (b"h", b"H"):
                self._hourly = not self._hourly
                self._next_stats = 0.0  # the other window, now
                return

    # -- one frame -------------------------------------------------------------------------
    def frame(self, now: float | None = None) -> Group:
        """The whole screen as rich renderables, for the terminal's size now."""
        now = time.time() if now is None else now
        if self._conn is None:
            self._conn = open_reader(self.db)
        conn = self._conn
        window, every = WINDOWS[1 if self._hourly else 0]
        # The reader says StoreError (with the file) for a failed read: _run shows it.
        if time.monotonic() >= self._next_stats:
            started = time.monotonic()
            self._refresh(conn, window_start(now, window), now)
            cost = time.monotonic() - started
            every = min(every, max(REDRAW_EVERY, cost * STATS_SHARE))
            self._next_stats = started + every
            self._next_at = now + every
        # The state now of the few monitors that are down, warning or in maintenance (or
        # were when the window was read): a frame places them anew, the others as read.
        down = conn.down_now()
        warnings = conn.warnings()
        maintained = conn.in_maintenance()
        pulse = self.pulse(conn, now)
        alerts = alert_rows(conn, limit=MAX_ALERT_LINES)
        width, height = self.console.size
        return self._draw(conn, down, warnings, maintained, pulse, alerts, now, width,
                          height, window)

    def waiting(self, now: float | None = None) -> Group:
        """The screen before the first read of the window: the header's first words."""
        stamp = time.strftime("%H:%M:%S", time.gmtime(time.time() if now is None else now))
        return Group(Text(shorten(f"{stamp} UTC reading the past"
                                  f" {'hour' if self._hourly else '10 min'}…",
                                  self.console.size[0]), style="bold"))

    def _refresh(self, conn: Reader, since: float, now: float) -> None:
        """The window from `since`: its summary, in one read."""
        self._since, self._read_at = since, now
        (found,) = summaries(conn, [(since, now)], worst=WORST, special=True)
        self._order = found.worst
        self._known = {t.monitor_id: t for t in (*found.worst, *found.special)}
        self._flags = {t.monitor_id: _flags(t) for t in found.special}
        summary = summary_of(found, since, now)
        self._counts, self._monitors = summary.counts, summary.monitors
        self._stats = {}
        self._labels = {}

    def _draw(self, conn: Reader, down: dict[str, float], warnings: dict[str, str],
              maintained: dict[str, float], pulse: Pulse, alerts: list[tuple[int, str]],
              now: float, width: int, height: int, window: float) -> Group:
        # The window's counts with each monitor's state as stored now: one that went down
        # since the window was read is down in this frame. Sorted and counted by it.
        def state(total: WindowTotal) -> str:
            monitor_id = total.monitor_id
            return state_of_total(total, monitor_id in down, monitor_id in warnings,
                                  monitor_id in maintained)

        unflagged = (False, False, False)
        changed_ids = [m for m in set(self._flags).union(down, warnings, maintained)
                       if self._flags.get(m, unflagged) != (
                           m in down, m in warnings, m in maintained)]
        self._read_totals(conn, [m for m in changed_ids if m not in self._known])
        changed = [self._known[m] for m in changed_ids if m in self._known]
        tally = dict(self._counts)
        for total in changed:
            tally[state_of_total(total)] -= 1
            tally[state(total)] += 1
        with self._lock:
            messages = list(self._messages)
        panel = self._panel(alerts, messages, now, width)
        # Lines: two of header, blank, table header, rows, "more", blank, panel.
        room = max(1, height - 6 - len(panel))
        monitors = self._monitors
        first = first_shown(self._order, changed, state,
                            monitors if monitors <= room else room - 1)
        shown_ids = [t.monitor_id for t in first]
        self._read_shown(conn, shown_ids, now)
        states = conn.monitor_states(shown_ids)
        names = {monitor_id: self._labels.get(monitor_id, monitor_id) for monitor_id in shown_ids}
        shown = [self._now(self._stats[m], states, now) for m in shown_ids]
        layout = fit(shown, names, width, self._read_located(conn, shown_ids, now))
        parts: list[Text] = [*self._header(tally, monitors, pulse, now, width, window),
                             Text(""), self._line(layout, [c.title for c in layout.columns],
                                                  "bold")]
        for s, total in zip(shown, first, strict=True):
            row_state = state_of(s, warning=s.monitor_id in warnings,
                                 maintenance=s.monitor_id in maintained)
            judged = self._judged.get(s.monitor_id)
            if judged is not None and row_state != MAINTENANCE:
                # Several locations: the rules' verdict, not the latest check's.
                row_state = (DOWN if judged == "down" else WARNING if judged == "warning"
                             else state_of(s, down=False))
            elif row_state != DOWN and state(total) == DOWN:
                row_state = DOWN  # down since its last state was read: as counted
            parts.append(self._line(layout, layout.cells(s, names[s.monitor_id]),
                                    STYLES[row_state], whole=row_state == DOWN))
        hidden = monitors - len(shown)
        if hidden:
            rest = dict(tally)
            for total in first:
                rest[state(total)] -= 1
            more = ", ".join(f"{n} {name}" for name, n in rest.items() if n)
            parts.append(Text(shorten(f"… and {hidden} more monitors ({more})", width),
                              style="dim"))
        parts.append(Text(""))
        parts.extend(panel)
        return Group(*parts)

    def _read_located(self, conn: Reader, monitor_ids: list[str], now: float,
                      ) -> dict[str, str]:
        """The locations' verdicts of the monitors shown, as `locations_text` writes them."""
        wanted = set(monitor_ids)
        if time.monotonic() < self._next_located and wanted <= self._located_for:
            return self._located
        started = time.monotonic()
        found = self._locations(conn, monitor_ids, now)
        self._located = {monitor_id: locations_text([(s.location, s.state) for s in states])
                         for monitor_id, states in found.items()}
        # -r has no config: a majority of the locations seen, the rules' default quorum.
        quorums = getattr(self._locations, "quorums", {})
        # An open alert is down until the rules recover it, whatever the locations say now.
        open_ = alerting(conn, found)
        self._judged = {monitor_id: verdict(states, quorums.get(monitor_id,
                                                                majority(len(states))),
                                            monitor_id in open_)
                        for monitor_id, states in found.items()}
        self._located_for = wanted
        self._next_located = started + max(REDRAW_EVERY,
                                           (time.monotonic() - started) * STATS_SHARE)
        return self._located

    def _read_totals(self, conn: Reader, monitor_ids: list[str]) -> None:
        """The counts over the window as read of monitors not among those read then that
        have changed state since (gone down, say): a few."""
        if not monitor_ids:
            return
        ranges, raws = window_pieces(conn, self._since, self._read_at)
        rows = {row.monitor_id: row for row in conn.window_rows(ranges, raws, monitor_ids)}
        for monitor_id in monitor_ids:
            row = rows.get(monitor_id)
            self._known[monitor_id] = WindowTotal(
                monitor_id, row.checks if row else 0, row.up if row else 0,
                row.rt_count if row else 0, row.rt_sum if row else 0.0,
                row.rt_max if row else None, None, None, False, False,
                row.rt_min if row else None)

    def _read_shown(self, conn: Reader, monitor_ids: list[str], now: float) -> None:
        """The full stats and the labels of the monitors shown that were not read since
        the window's counts were: a few rows' worth, not every monitor's."""
        missing = [m for m in monitor_ids if m not in self._stats]
        if missing:
            self._stats.update(window_stats(conn, self._since, now, missing, narrow=True))
            self._labels.update(monitor_labels(conn, missing))

    @staticmethod
    def _now(stats: MonitorStats, states: dict[str, tuple[float | None, float | None]],
             now: float) -> MonitorStats:
        down_for, since_failure = state_at(*states.get(stats.monitor_id, (None, None)), now)
        return stats._replace(down_for=down_for, since_failure=since_failure)

    @staticmethod
    def _line(layout: Layout, cells: list[str], style: str, whole: bool = True) -> Text:
        """One line of the table, as wide as the layout: the cells padded and separated by
        GAP spaces, in `style` (only the name and its availability unless `whole`). Lines,
        not a rich Table: its layout cost more than everything else of a frame together."""
        line = Text(no_wrap=True, overflow="crop")
        for index, (column, column_width, cell) in enumerate(
                zip(layout.columns, layout.widths, cells, strict=True)):
            if index:
                line.append(" " * GAP)
            text = cell.rjust(column_width) if column.right else cell.ljust(column_width)
            line.append(text, style=style if whole or index < 2 else "")
        return line

    def _header(self, tally: dict[str, int], monitors: int, pulse: Pulse, now: float,
                width: int, window: float) -> list[Text]:
        """Two lines: the totals and the monitor's pulse; the window shown, when it is
        refreshed next, and the keys. Each drops its last pieces when narrow."""
        stamp = time.strftime("%H:%M:%S", time.gmtime(now))
        totals: list[tuple[str, str]] = [
            (f"{stamp} UTC", "bold"),
            (f"{monitors} monitors:", ""),
            (f"{tally[DOWN]} down,", STYLES[DOWN] if tally[DOWN] else ""),
            (f"{tally[WARNING]} warning,", STYLES[WARNING] if tally[WARNING] else ""),
            (f"{tally[UNSTABLE]} unstable,", STYLES[UNSTABLE] if tally[UNSTABLE] else ""),
            (f"{tally[UP]} up", STYLES[UP]),
        ]
        if tally[MAINTENANCE]:
            totals.append((f"({tally[MAINTENANCE]} in maintenance)", STYLES[MAINTENANCE]))
        if tally[IDLE]:
            totals.append((f"({tally[IDLE]} not checked yet)", STYLES[IDLE]))
        if pulse.checks_per_s is not None:
            totals.append((f"| {pulse.checks_per_s:.1f} checks/s", ""))
        if pulse.lateness_p99_ms is not None:
            totals.append((f"| lateness p99 {pulse.lateness_p99_ms:.0f} ms", ""))
        if pulse.write_lag_s is not None:
            totals.append((f"| {pulse.lag_label} {_seconds(pulse.write_lag_s)}", ""))
        since = time.strftime("%H:%M", time.gmtime(self._since))
        nxt = time.strftime("%H:%M:%S", time.gmtime(self._next_at))
        span = "hour" if window >= 3600 else f"{window / 60:.0f} min"
        view = [(f"Past {span} (since {since}), next {nxt}.", "dim"),
                (f"h: past {'10 min' if self._hourly else 'hour'}, q: quit", "dim")]
        if pulse.overload is not None:  # first: however narrow, it is seen
            view.insert(0, (pulse.overload, "bold red"))
        return [_pieces(totals, width), _pieces(view, width)]

    def _panel(self, alerts: list[tuple[int, str]], messages: list[tuple[float, str]],
               now: float, width: int) -> list[Text]:
        self._seen = {i: self._seen.get(i, now - NEW_FOR if self._first else now)
                      for i, _message in alerts}  # only the ones shown: bounded
        self._first = False
        entries = [(self._seen[i], text) for i, text in alerts] + messages
        entries.sort(key=lambda entry: entry[0], reverse=True)
        lines = [Text(shorten("Latest alerts" + ("" if entries else ": none yet"), width),
                      style="bold")]
        for seen, text in entries[:MAX_ALERT_LINES]:
            fresh = now - seen < NEW_FOR
            style = "red" if " is down." in text or text.startswith("Warning") else "green"
            lines.append(Text(shorten(text, width), style=f"reverse {style}" if fresh
                              else style))
        return lines
