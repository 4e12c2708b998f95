"""Which providers hear of an alert row (an alert, a recovery, a reminder, a warning or
its clearing, a flapping or its settling), and what they are told: a monitor's `notify`
(its providers; by default all of them) filtered by its `notifyOn` events, each
provider's `title` and `body` templates rendered with the event's named fields.

Default texts: the line as printed, under "<TYPE>: <label>" ("ALERT: shop"); for the
alert and recovery of a check of this machine (a kind that is not a network check:
process, cpu, memory, disk, load), the agent systems' form, "<name> is now DOWN" and
"<subject> on <host> changed from up -> down at <time>", with the line's note (its name,
the cause): "disk /var on web-1 changed from unknown -> down at ... (threshold: ...)". It
changed from what it was: "up", "warning", or "unknown" for a monitor never seen up.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping, Sequence

from monitor.alerts import AlertEvent
from monitor.alerts.messages import cause, note, own_name, subject
from monitor.checks import registry
from monitor.config.notify import Provider, render
from monitor.core.model import Monitor
from monitor.core.timefmt import format_time
from monitor.store.api import KEY_FIELD, Delivery


def deliveries(event: AlertEvent, monitor: Monitor | None,
               providers: Sequence[Provider]) -> tuple[Delivery, ...]:
    """The notifications `event` makes, one per provider that wants it."""
    if monitor is None or event.event not in monitor.notify_on:
        return ()
    wanted = providers if monitor.notify is None else [
        p for p in providers if p.name in monitor.notify]
    if not wanted:
        return ()
    fields = _fields(event, monitor)
    title, body = _defaults(monitor, fields, event.previous)
    return tuple(Delivery(p.name, event.event, _render(p.title, fields, title),
                          _render(p.body, fields, body)) for p in wanted)


# The state a monitor is in after each type of event, as the templates' {state} says it.
STATE_AFTER = {"alert": "down", "reminder": "down", "recovery": "up", "warning": "warning",
               "cleared": "up", "flapping": "flapping", "settled": "settled"}


def _fields(event: AlertEvent, monitor: Monitor) -> dict[str, str]:
    state = STATE_AFTER[event.type]
    return {
        "name": monitor.label, "target": monitor.target, "id": monitor.id,
        "kind": monitor.kind, "event": event.type, "EVENT": event.type.upper(),
        "state": state, "STATE": state.upper(), "availability": f"{event.availability:.1%}",
        "time": format_time(event.time), "message": event.message,
        # An alert's and a reminder's: its latest failed check's; a warning's: its own.
        "reason": event.reason, "detail": event.detail,
        # The outbox key ("<alert id>:<provider>") exists once the alert row is written:
        # the writer fills it in.
        "host": socket.gethostname(), "key": KEY_FIELD,
    }


def _defaults(monitor: Monitor, fields: Mapping[str, str], previous: str,
              ) -> tuple[str, str]:
    kind = registry.find(monitor.kind)
    if (kind is not None and not kind.network and kind.watch is None
            and fields["event"] in ("alert", "recovery")):
        called = subject(monitor.kind, monitor.target)
        before = previous or ("down" if fields["state"] == "up" else "unknown")
        why = cause(fields["reason"], fields["detail"]) if fields["event"] == "alert" else ""
        return (f"{monitor.name or called} is now {fields['STATE']}",
                f"{called} on {fields['host']} changed from {before} ->"
                f" {fields['state']} at {fields['time']}"
                f"{note(own_name(called, monitor.name), why)}")
    return f"{fields['EVENT']}: {fields['name']}", fields["message"]


def _render(template: str | None, fields: Mapping[str, str], default: str) -> str:
    # Templates were checked against TEMPLATE_FIELDS when the config was read.
    return default if template is None else render(template, fields)
