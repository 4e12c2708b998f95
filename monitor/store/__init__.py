"""The store: one interface for everything the program writes and reads back.

The engine hands the writer (`Store`) checks, alerts and its monitors as typed commands;
the stats, reports, live view, self-test and alert restore read through a `Reader`
(`open_reader`). Both are implemented on SQLite in monitor.store.sqlite, the only place
that knows the database; the aggregate codec (histograms, counts) is monitor.store.codec.
"""

from monitor.core.errors import StoreError
from monitor.store.api import (
    SPANS,
    AlertRecord,
    AlertRow,
    Command,
    Delivery,
    DeliveryDone,
    DeliveryState,
    Flush,
    MetricRow,
    MonitorInfo,
    MonitorRow,
    OutboxRow,
    Purge,
    Range,
    RawPiece,
    Reader,
    SetMaintenance,
    SetMonitors,
    Stop,
    WindowRow,
    iso_utc,
    parse_iso,
)
from monitor.store.sqlite import (
    SCHEMA_VERSION,
    DatabaseOwner,
    Store,
    open_reader,
    open_writer_connection,
)

__all__ = [
    "SCHEMA_VERSION", "SPANS", "AlertRecord", "AlertRow", "Command", "DatabaseOwner",
    "Delivery",
    "DeliveryDone", "DeliveryState", "Flush", "MetricRow", "MonitorInfo", "MonitorRow",
    "OutboxRow", "Purge", "Range", "RawPiece", "Reader", "SetMaintenance", "SetMonitors",
    "Stop", "Store", "StoreError", "WindowRow", "iso_utc", "open_reader",
    "open_writer_connection", "parse_iso",
]
