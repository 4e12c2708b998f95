"""The PostgreSQL writer where PostgreSQL differs: the server refusing and coming back, and a
password in the URL never said. The writer's other tests run on both stores in
tests/store/ (the `backend` fixture: test_store.py, test_folds.py, test_rollups.py,
test_outbox.py, test_agents.py)."""

from __future__ import annotations

import psycopg
import pytest

from tests.store.test_store import BASE, A, alert, check


def test_rows_are_held_while_the_server_refuses_and_written_when_it_is_back(
        postgres_server, postgres_url: str) -> None:
    from monitor.store.postgres.writer import Store

    name = postgres_url.rsplit("/", 1)[1]
    messages: list[str] = []
    store = Store(postgres_url, on_error=messages.append).start()
    first = [check(A, BASE + s) for s in range(5)]
    store.put_checks(first)
    assert store.flush()
    # The server takes no new connection to the database and drops the writer's.
    postgres_server.admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
    postgres_server.admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                          f" WHERE datname = '{name}'")
    second = [check(A, BASE + 10 + s, False, 500, 5.0, "http_status") for s in range(4)]
    store.put_checks(second)
    store.put_alert(alert(A, BASE + 11))
    assert store.flush() is False
    assert store.refusing
    assert len(messages) == 1 and "cannot write" in messages[0], messages
    postgres_server.admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
    store.put_check(check(A, BASE + 30))
    assert store.flush() is True
    store.close()
    assert messages[1:] == [f"{store.path}: writing resumed"]
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM website_monitoring").fetchone() == (10,)
        assert conn.execute("SELECT count(*) FROM website_alerts").fetchone() == (1,)
    assert store.dropped == 0


def test_a_password_in_the_url_is_never_said(postgres_server) -> None:
    from monitor.core.errors import StoreError
    from monitor.store.postgres.writer import Store

    with pytest.raises(StoreError) as info:
        Store(f"postgresql://postgres:s3cret-pw@127.0.0.1:{postgres_server.port}/missing_db")
    assert "s3cret-pw" not in str(info.value)
