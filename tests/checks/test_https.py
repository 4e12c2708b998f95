"""HTTPS against real TLS servers on loopback with certificates the test makes itself:
trusted, self-signed, for the wrong host, expired; and the whole-check timeout after the
handshake."""

import time

import pytest

from monitor.checks.execute import run_check
from tests.conftest import make_site


def check(url, watchdog, **kwargs):
    return run_check(make_site(url, timeout=2.0, **kwargs), watchdog)


def test_certificate_signed_by_a_trusted_ca_is_up(servers, pki, watchdog):
    result = check(servers["good"].url + "/", watchdog, ca_file=str(pki / "ca.pem"))
    assert (result.available, result.code, result.reason) == (True, 200, None)


@pytest.mark.parametrize(("label", "detail"), [
    ("self-signed", "certificate: self-signed certificate"),
    ("wrong-host", "certificate: IP address mismatch, certificate is not valid for "
                   "'127.0.0.1'."),
    ("expired", "certificate: certificate has expired"),
])
def test_bad_certificate_is_a_tls_failure_naming_the_fault(servers, pki, watchdog, label,
                                                            detail):
    # The CA is trusted, so the fault reported is the one the certificate has.
    result = check(servers[label].url + "/", watchdog, ca_file=str(pki / "ca.pem"))
    assert (result.available, result.code, result.reason, result.detail) == (
        False, None, "tls", detail)


def test_unknown_ca_is_a_tls_failure(servers, watchdog):
    result = check(servers["good"].url + "/", watchdog)
    assert (result.available, result.reason) == (False, "tls")
    assert result.detail == "certificate: unable to get local issuer certificate"


def test_tls_verify_false_accepts_any_certificate(servers, watchdog):
    for label in ("self-signed", "wrong-host"):
        result = check(servers[label].url + "/", watchdog, tls_verify=False)
        assert (label, result.available, result.code) == (label, True, 200)
    # Any certificate, but its dates still count (tlsFailDaysLeft, default 0).
    result = check(servers["expired"].url + "/", watchdog, tls_verify=False)
    assert (result.available, result.code, result.reason) == (False, 200, "tls_expiry")


def test_https_drip_is_cut_at_the_timeout(servers, pki, watchdog):
    started = time.monotonic()
    result = run_check(make_site(servers["good"].url + "/drip", timeout=1.0,
                                 ca_file=str(pki / "ca.pem")), watchdog)
    elapsed = time.monotonic() - started
    assert (result.available, result.code, result.reason) == (False, 200, "timeout")
    assert elapsed < 1.5


def test_an_http2_answer_is_read_as_http(h2_server, pki, watchdog):
    # libcurl negotiates HTTP/2 where the server offers it: its status line is "HTTP/2 200".
    up = check(h2_server.url + "/", watchdog, ca_file=str(pki / "ca.pem"))
    assert (up.available, up.code, up.reason) == (True, 200, None), up
    down = check(h2_server.url + "/down", watchdog, ca_file=str(pki / "ca.pem"))
    assert (down.available, down.code, down.reason, down.detail) == (
        False, 503, "http_status", "HTTP 503")
    assert h2_server.protocols[-2:] == ["h2", "h2"]
