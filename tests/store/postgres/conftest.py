"""The PostgreSQL store's tests: a real server per worker, a fresh database per test."""

from tests.support.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures
