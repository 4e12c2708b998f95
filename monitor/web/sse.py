"""The event stream's encoding (text/event-stream): event ids, which are positions in the
database (`<check id>.<alert id>`, the newest of each read when the event was sent), the
frames of the events of stored rows, and what a stream's filter selects of them."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from monitor.core.model import LOCAL
from monitor.store.api import parse_iso
from monitor.store.events import Position, Tail, TailAlert, TailCheck

TYPES = ("check", "state", "alert")
_ID = re.compile(r"([0-9]{1,18})\.([0-9]{1,18})")


def parse_id(text: str) -> Position:
    """An event id of ours ("<check id>.<alert id>"); raises ValueError."""
    match = _ID.fullmatch(text.strip())
    if match is None:
        raise ValueError(text)
    return Position(int(match[1]), int(match[2]))


def format_id(position: Position) -> str:
    return f"{position.check}.{position.alert}"


class Event(NamedTuple):
    type: str
    monitor_id: str
    position: Position  # its id
    frame: bytes  # as sent


@dataclass(frozen=True)
class Filter:
    """What a stream asked for: event types, and monitors (None: all)."""

    types: frozenset[str] = frozenset(TYPES)
    monitors: frozenset[str] | None = None

    @property
    def everything(self) -> bool:
        return self.monitors is None and len(self.types) == len(TYPES)

    def wants(self, event: Event) -> bool:
        return event.type in self.types and (self.monitors is None
                                             or event.monitor_id in self.monitors)


def frame(position: Position, kind: str, data: bytes) -> bytes:
    return b"id: %s\nevent: %s\ndata: %s\n\n" % (format_id(position).encode(),
                                                 kind.encode(), data)


def _json_bytes(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def check_data(row: TailCheck) -> bytes:
    # What is not there is left out (no code, reason, detail or metrics): each stream gets
    # every check, a thousand a second on a big monitor.
    fields: dict[str, object] = {"monitor": row.monitor_id, "at": round(row.timestamp, 3),
                                 "state": row.state or "unknown"}
    if row.code is not None:
        fields["code"] = row.code
    fields["responseMs"] = round(row.response_ms, 3)
    _outcome(fields, row)
    if row.location != LOCAL:  # an agent's check: where it ran
        fields["location"] = row.location
    data = _json_bytes(fields)
    # The stored JSON as it is: parsing it to write it again would double the cost.
    return data if row.metrics is None else data[:-1] + b',"metrics":%s}' % (
        row.metrics.encode())


def state_data(row: TailCheck, previous: str | None) -> bytes:
    fields: dict[str, object] = {"monitor": row.monitor_id, "at": round(row.timestamp, 3),
                                 "state": row.state, "previous": previous}
    _outcome(fields, row)
    return _json_bytes(fields)


def _outcome(fields: dict[str, object], row: TailCheck) -> None:
    if row.reason is not None:
        fields["reason"] = row.reason
    if row.detail:
        fields["detail"] = row.detail


def alert_data(row: TailAlert) -> bytes:
    return _json_bytes({"id": row.id, "monitor": row.monitor_id, "type": row.type,
                  "at": parse_iso(row.timestamp), "start": parse_iso(row.start),
                  "end": None if row.end is None else parse_iso(row.end),
                  "availability": row.availability, "message": row.message})


def events_of(tail: Tail, start: Position,
              state_of: Callable[[TailCheck], bytes | None]) -> list[Event]:
    """The events of `tail` read after `start`: each check, followed by its state change
    if `state_of` finds one, then the alerts (written with or after their checks)."""
    events = []
    check, alert = start
    for row in tail.checks:
        check = max(check, row.id)
        position = Position(check, alert)
        events.append(Event("check", row.monitor_id, position,
                            frame(position, "check", check_data(row))))
        change = state_of(row)
        if change is not None:
            events.append(Event("state", row.monitor_id, position,
                                frame(position, "state", change)))
    for entry in tail.alerts:
        alert = max(alert, entry.id)
        position = Position(check, alert)
        events.append(Event("alert", entry.monitor_id, position,
                            frame(position, "alert", alert_data(entry))))
    return events


def select(events: list[Event], wanted: Filter, after: Position, end: Position) -> bytes:
    """The frames of the events `wanted` asks for with an id beyond `after`, and a last
    id-only block when the last of them is not at `end` (the client resumes from there)."""
    chosen = [e for e in events if wanted.wants(e) and (
        e.position.check > after.check if e.type != "alert" else e.position.alert > after.alert)]
    if not chosen:
        return b""
    data = b"".join(e.frame for e in chosen)
    return data if chosen[-1].position == end else data + id_block(end)


def reset(position: Position, reason: str, asked: Position) -> bytes:
    """A `reset` event: the events since `asked` cannot be sent, `reason` says why; the
    stream goes on from `position`."""
    return frame(position, "reset", _json_bytes({"reason": reason,
                                                 "from": format_id(asked)}))


def id_block(position: Position) -> bytes:
    """A block with an id alone: it moves the client's last event id, and fires nothing."""
    return b"id: %s\n\n" % format_id(position).encode()
