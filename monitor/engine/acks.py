"""Acknowledged alerts: the API stores an acknowledgement in the database (maybe from
another process than the monitor's), and the running monitor reads them four times a
second, as it reads the maintenance set, so that an acknowledged alert is reminded no
more. Only while an alert that reminders repeat is open is anything read."""

from __future__ import annotations

from monitor.alerts import AlertEvaluator
from monitor.store.api import Reader, iso_utc


def acknowledged(alerts: AlertEvaluator, reader: Reader) -> set[str]:
    """Apply the acknowledgements stored for the alerts open in `alerts` whose reminders
    repeat; the monitors whose alert was acknowledged now. Raises StoreError."""
    waiting = alerts.reminding()
    if not waiting:
        return set()
    stored = reader.acked_starts(waiting)
    found = set()
    for monitor_id, start in waiting.items():
        # The alert's row holds its start as this text: the same instant, to the millisecond.
        if iso_utc(start) in stored.get(monitor_id, ()):
            alerts.acknowledge(monitor_id, start)
            found.add(monitor_id)
    return found
