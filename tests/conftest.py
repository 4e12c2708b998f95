import pytest

import monitor.checks  # noqa: F401 - imported up front so no test times the import
from monitor.checks import Monitor, Watchdog
from monitor.checks.http import http_monitor
from tests.hostile import HostileServer
from tests.tls_servers import h2_server, pki, servers  # noqa: F401 - fixtures for TLS tests


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
