import pytest

from monitor.checks import registry
from monitor.checks.http.spec import http_monitor
from monitor.checks.watchdog import Watchdog
from monitor.core.model import Monitor
from tests.support.hostile import HostileServer
from tests.support.tls_servers import h2_server, pki, servers  # noqa: F401 - fixtures for TLS tests

# Every built-in kind's module imported up front, so that no test times its import (the
# program imports a kind when a config first uses it; tests/project/test_imports.py checks
# that).
registry.built_in()


@pytest.fixture(scope="module")
def hostile():
    with HostileServer() as server:
        yield server


@pytest.fixture()
def watchdog():
    dog = Watchdog()
    yield dog
    dog.stop()


def make_site(url: str, interval: float = 1.0, timeout: float = 0.5, window: float = 120.0,
              threshold: float = 0.8, **kwargs) -> Monitor:
    return http_monitor(url, interval=interval, timeout=timeout, alert_window=window,
                        alert_threshold=threshold, **kwargs)


# --- make test's two passes -------------------------------------------------------------
# The tests tests/serial.py names are marked `serial`: `make test` runs the rest on
# parallel workers, then these alone (their timing asserts need a quiet machine).
@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by the mark
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                   items: list[pytest.Item]) -> None:
    from tests import serial

    # Stale names are checked when the whole suite was collected, and collected cleanly.
    whole = config.args_source == pytest.Config.ArgsSource.TESTPATHS and not session.testsfailed
    serial.mark(items, whole_suite=whole)


@pytest.hookimpl(optionalhook=True)  # a pytest-xdist hook: before the workers start
def pytest_xdist_setupnodes() -> None:
    # pytest imports readline, which exports COLUMNS and LINES below os.environ: workers
    # would start with them in os.environ, where a one-process run has not (then `-r`
    # fits its tables to 80 columns in-process). Each worker's readline exports them again.
    import os

    for name in ("COLUMNS", "LINES"):
        if name not in os.environ:
            os.unsetenv(name)
