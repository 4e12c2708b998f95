"""The PostgreSQL store's tests: a real server per worker, a fresh database per test. The
`backend` fixture that runs a test on both stores is tests/store/conftest.py's (every
store test takes it); `Backend` is named here too for the modules that import it."""

from __future__ import annotations

from tests.store.conftest import Backend  # noqa: F401 - named for test_writer.py
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures
