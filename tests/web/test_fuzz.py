"""The API fuzzed from its own OpenAPI document by schemathesis: every operation, with
generated parameters and bodies (valid and not), against the app over a real config file
and database. No answer may be a 5xx, and every answer must match the document (status
code, content type, body schema). Bounded: a fixed number of examples per operation."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    missing_required_header,
    positive_data_acceptance,
)

from monitor.config import load_config
from monitor.store.sqlite.writer import Store
from monitor.web import create_app
from monitor.web.context import WebContext
from tests.support.web import TOKENS, WRITE_TOKEN, bearer, write_config

EXAMPLES = 25  # per operation: the whole run stays within about a minute

CONFIG = {
    "monitors": [
        {"URL": "http://127.0.0.1:9/", "name": "home page"},
        {"type": "tcp", "host": "127.0.0.1", "port": 9, "name": "a port"},
    ],
    "apiTokens": TOKENS,
}


class _Served:
    """The app over files of its own, made when the module is collected (schemathesis makes
    the tests from the document the app serves), closed by the module's last test."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="fuzz-"))
        config_path, db_path = self.folder / "config.json", self.folder / "monitoring.db"
        write_config(config_path, CONFIG)
        self.store = Store(db_path)
        self.context = WebContext(config_path, db_path, self.store, load_config(config_path))
        # As a stopping server: an event stream sends what it has and ends (else never).
        self.context.closing.set()
        self.app = create_app(self.context)

    def close(self) -> None:
        self.context.close()
        self.store.close()
        shutil.rmtree(self.folder, ignore_errors=True)


SERVED = _Served()
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", SERVED.app)


@pytest.fixture(scope="module", autouse=True)
def _store() -> Iterator[None]:
    SERVED.store.start()
    yield
    SERVED.close()


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_the_api_answers_every_request_as_documented(case: Any) -> None:
    # Every check but two, each against a documented answer the checks do not know:
    # - "a request the schema allows is accepted": a body can be well formed and still be
    #   refused for what no schema says (an id that clashes, a timestamp in the future);
    # - "a missing required header is a 4xx of its list": a change without If-Match is
    #   RFC 6585's 428 Precondition Required, which the list lacks;
    # Answers uncompressed: schemathesis calls the app directly (WSGI), with no HTTP client
    # to decode them.
    case.call_and_validate(headers={**bearer(WRITE_TOKEN), "Accept-Encoding": "identity"},
                           excluded_checks=[
                               positive_data_acceptance, missing_required_header])
