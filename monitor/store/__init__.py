"""The store: one interface for everything the program writes and reads back.

The engine hands the writer (monitor.store.sqlite.writer's `Store`) checks, alerts and its
monitors as the typed commands of monitor.store.api; the stats, reports, live view,
self-test and alert restore read through a `Reader` (monitor.store.sqlite.queries's
`open_reader`). The SQLite implementation is monitor.store.sqlite, the only package that
writes SQL; the aggregate codec (histograms, counts) is monitor.store.codec.
"""
