"""The http kind's debug trace: hops, address, status, headers (secret ones masked),
certificate, verdict."""

from monitor.checks import registry
from tests.conftest import make_site


def test_debug_traces_each_hop_and_masks_secrets(hostile):
    site = make_site(f"http://ops:pw-secret@127.0.0.1:{hostile.server_address[1]}"
                     "/redirect-ok", timeout=2.0, headers=(("X-Api-Key", "tok-secret"),))
    result, lines = registry.get("http").debug(site)
    text = "\n".join(lines)
    assert result.available and result.code == 200
    assert "hop 0: GET http://ops:***@127.0.0.1:" in text and "hop 1:" in text
    assert "  < HTTP/1.1 301 Moved Permanently" in text
    assert "address 127.0.0.1 port" in text
    assert lines[-2] == "verdict: up"
    assert "pw-secret" not in text and "tok-secret" not in text
    assert set(result.metrics) >= {"dns", "connect", "ttfb", "total"}
    assert "tls" not in result.metrics


def test_debug_shows_the_certificate(servers, pki):
    site = make_site(servers["good"].url + "/", timeout=2.0, ca_file=str(pki / "ca.pem"))
    result, lines = registry.get("http").debug(site)
    text = "\n".join(lines)
    assert result.available
    assert "certificate subject: CN = 127.0.0.1" in text
    assert "certificate issuer: CN = Test CA" in text
    assert "certificate expires in 89.9" in text or "certificate expires in 90.0" in text
    assert "tls" in result.metrics
