"""The SQLite implementation of the store: schema, numbered migrations, the writer thread
and the read queries. Outside this package, only the writer (`Store`), the reader
(`open_reader`) and the owner lock are used, by their modules."""
