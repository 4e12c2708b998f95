"""The SQLite implementation of the store: schema, numbered migrations, the writer thread
and the read queries. Nothing outside this package knows it is SQLite."""

from monitor.store.sqlite.connection import open_writer_connection
from monitor.store.sqlite.owner import DatabaseOwner
from monitor.store.sqlite.queries import SqliteReader, open_reader
from monitor.store.sqlite.schema import SCHEMA, SCHEMA_VERSION
from monitor.store.sqlite.writer import Store

__all__ = ["SCHEMA", "DatabaseOwner", "SCHEMA_VERSION", "SqliteReader", "Store", "open_reader",
           "open_writer_connection"]
