"""The store in PostgreSQL (psycopg 3): the same tables and the same interface as
monitor.store.sqlite (a writer class with the Store's methods, a reader implementing the
Reader protocol), for a history that several monitors and agents share on a server."""
