"""The web app over a real config file and a real SQLite database, for Flask's test client."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from monitor.config import load_config
from monitor.store.sqlite.writer import Store
from monitor.web import create_app
from monitor.web.context import WebContext

URL = "http://127.0.0.1:9/"
WRITE_TOKEN = "w" * 20  # a token of the write scope, in configs made with tokens=True
READ_TOKEN = "r" * 20
TOKENS = [{"name": "ci", "token": WRITE_TOKEN, "scope": "write"},
          {"name": "viewer", "token": READ_TOKEN, "scope": "read"}]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Web:
    """A test client with the app, its context, the files and the store it writes with."""

    client: FlaskClient
    app: Flask
    context: WebContext
    config_path: Path
    db_path: Path
    store: Store

    def document(self) -> dict[str, Any]:
        """config.json as it is on disk now."""
        return json.loads(self.config_path.read_text())  # type: ignore[no-any-return]


def write_config(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2))
    os.chmod(path, 0o600)


@pytest.fixture()
def make_web(tmp_path: Path) -> Iterator[Any]:
    """`make_web(document=None, tokens=False, public_read=False)`: the app over config.json
    (one http monitor by default; `tokens` adds TOKENS) and a started store."""
    made: list[Web] = []

    def make(document: dict[str, Any] | None = None, tokens: bool = False,
             public_read: bool = False) -> Web:
        document = dict(document or {"monitors": [{"URL": URL}]})
        if tokens:
            document["apiTokens"] = TOKENS
        config_path = tmp_path / "config.json"
        db_path = tmp_path / "monitoring.db"
        write_config(config_path, document)
        store = Store(db_path).start()
        context = WebContext(config_path, db_path, store, load_config(config_path),
                             public_read=public_read)
        app = create_app(context)
        app.testing = True
        web = Web(app.test_client(), app, context, config_path, db_path, store)
        made.append(web)
        return web

    yield make
    for web in made:
        web.context.close()
        web.store.close()
