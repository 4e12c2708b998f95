"""The tls kind: a TLS handshake and the days left of the server's certificate, against real
loopback TLS servers with certificates made by the tests (tests/support/tls_servers.py): good, for
another host, self-signed, 5 days from expiry, expired."""

import gc
import json
import re
import socket
import ssl
import time
import warnings

import psutil
import pytest

from monitor.checks import certs, registry
from monitor.checks.http.spec import http_monitor
from monitor.checks.tls import TlsSpec, check
from monitor.config import parse_config
from monitor.core.deadline import Deadline
from monitor.core.errors import ConfigError
from monitor.core.model import Monitor
from tests.support.app import ROOT, run_app
from tests.support.tcp_servers import Loopback, banner, drain, reset


def monitor(timeout: float = 2.0, top: dict | None = None, **entry) -> Monitor:
    """The monitor a config entry of type tls makes (through the real config parser)."""
    entry = {"type": "tls", "host": "127.0.0.1", "timeout": timeout, **entry}
    return parse_config(json.dumps({**(top or {}), "websites": [entry]})).monitors[0]


def once(mon: Monitor):
    return check(mon, Deadline(time.monotonic() + mon.timeout, mon.timeout))


def port_of(server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tls_context(pki, label: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pki / f"{label}.pem", pki / "key.pem")
    return context


# --- config -----------------------------------------------------------------------------

def test_a_tls_entry_parses_with_its_defaults():
    mon = monitor(host="mail.example")
    assert (mon.kind, mon.target, mon.id) == ("tls", "mail.example:443", "tls:mail.example:443")
    assert mon.spec == TlsSpec(host="mail.example", port=443, server_name=None, verify=True,
                               ca_file=None, expiry=certs.Expiry(14.0, 0.0))
    assert mon.spec.name == "mail.example"
    six = monitor(host="::1", port=993, serverName="imap.example", tlsVerify=False)
    assert (six.target, six.spec.name, six.spec.verify) == ("[::1]:993", "imap.example", False)


def test_expiry_thresholds_come_from_the_entry_else_the_top_level(pki):
    mon = monitor(top={"tlsMinDaysLeft": 30, "tlsFailDaysLeft": 3}, host="x")
    assert mon.spec.expiry == certs.Expiry(30.0, 3.0)
    mon = monitor(top={"tlsMinDaysLeft": 30}, host="x", tlsMinDaysLeft=20, tlsFailDaysLeft=7,
                  caFile=str(pki / "ca.pem"))
    assert mon.spec.expiry == certs.Expiry(20.0, 7.0)
    assert mon.spec.ca_file == str(pki / "ca.pem")


@pytest.mark.parametrize(("entry", "message"), [
    ({"host": None}, "websites[0].host: must be a host name or IP address"),
    ({"host": "a/b"}, "websites[0].host: must be a host name or IP address"),
    ({"port": 65536}, "websites[0].port: must be a whole number from 1 to 65535"),
    ({"serverName": ""}, "websites[0].serverName: must be a host name or IP address"),
    ({"serverName": "a b"}, "websites[0].serverName: must be a host name or IP address"),
    # Names no lookup or SNI can send (IDNA refuses them): refused here, not at every check.
    ({"serverName": ".example.com"},
     "websites[0].serverName: must be a host name or IP address"),
    ({"serverName": "a..b"}, "websites[0].serverName: must be a host name or IP address"),
    ({"serverName": "x" * 64 + ".com"},
     "websites[0].serverName: must be a host name or IP address"),
    ({"host": "."}, "websites[0].host: must be a host name or IP address"),
    ({"host": "a..example.com"}, "websites[0].host: must be a host name or IP address"),
    ({"tlsVerify": "no"}, "websites[0].tlsVerify: must be true or false"),
    ({"caFile": ""}, "websites[0].caFile: must be the path of a PEM file of CA certificates"),
    ({"caFile": "no-such-ca.pem"}, "websites[0].caFile: file not found: no-such-ca.pem"),
    ({"tlsMinDaysLeft": -1}, "websites[0].tlsMinDaysLeft: must be a number from 0 to 3650"),
    ({"tlsMinDaysLeft": "14"}, "websites[0].tlsMinDaysLeft: must be a number from 0 to 3650"),
    ({"tlsFailDaysLeft": 4000}, "websites[0].tlsFailDaysLeft: must be a number from 0 to 3650"),
    ({"tlsFailDaysLeft": 20}, "websites[0].tlsFailDaysLeft: tlsFailDaysLeft (20) must not be"
                              " above tlsMinDaysLeft (14)"),
    ({"tlsMinDaysLeft": 5, "tlsFailDaysLeft": 7},
     "websites[0].tlsFailDaysLeft: tlsFailDaysLeft (7) must not be above tlsMinDaysLeft (5)"),
    ({"banner": "x"}, "websites[0].banner: unknown key"),
    ({"severName": "x"}, 'websites[0].severName: unknown key (did you mean "serverName"?)'),
])
def test_config_errors_name_the_key(entry, message):
    text = json.dumps({"websites": [{"type": "tls", "host": "x", **entry}]})
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert str(caught.value) == f"config.json: {message}"


def test_a_missing_host_is_required():
    with pytest.raises(ConfigError) as caught:
        parse_config(json.dumps({"websites": [{"type": "tls", "port": 993}]}))
    assert str(caught.value) == "config.json: websites[0].host: is required"


@pytest.mark.parametrize(("top", "message"), [
    ({"tlsMinDaysLeft": 5000}, "tlsMinDaysLeft: must be a number from 0 to 3650"),
    ({"tlsMinDaysLeft": 5, "tlsFailDaysLeft": 6},
     "tlsFailDaysLeft: tlsFailDaysLeft (6) must not be above tlsMinDaysLeft (5)"),
])
def test_top_level_thresholds_are_checked_too(top, message):
    text = json.dumps({**top, "websites": [{"URL": "https://example.com/"}]})
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    assert str(caught.value) == f"config.json: {message}"


def test_the_kind_registers_its_reasons_and_hooks():
    kind = registry.get("tls")
    assert kind.reasons == ("dns", "connect", "tls", "tls_expiry", "timeout", "other")
    assert kind.network and kind.network_reasons == {"dns", "connect", "timeout"}
    assert kind.top_keys == ("tlsMinDaysLeft", "tlsFailDaysLeft")
    assert kind.plugin is not None and kind.debug is not None


# --- certificates -----------------------------------------------------------------------

def test_a_good_certificate_is_up_with_its_days_left(servers, pki):
    result = once(monitor(port=port_of(servers["good"]), caFile=str(pki / "ca.pem")))
    assert (result.state, result.code, result.reason, result.detail) == ("up", 0, None, "")
    assert set(result.metrics) == {"connect", "tls", "cert_days", "total"}
    assert 89.9 < result.metrics["cert_days"] <= 90.0
    assert result.metrics["tls"] > 0


def test_a_certificate_5_days_from_expiry_is_a_warning(servers, pki):
    result = once(monitor(port=port_of(servers["soon"]), caFile=str(pki / "ca.pem")))
    assert (result.state, result.available, result.reason, result.code) == (
        "warning", True, "tls_expiry", 0)
    assert result.detail == "certificate expires in 5.0 days (tlsMinDaysLeft 14)"
    assert 4.9 < result.metrics["cert_days"] <= 5.0


def test_thresholds_judge_the_days_left(servers, pki):
    port, ca = port_of(servers["good"]), str(pki / "ca.pem")
    warned = once(monitor(port=port, caFile=ca, tlsMinDaysLeft=100))
    assert (warned.state, warned.detail) == (
        "warning", "certificate expires in 90.0 days (tlsMinDaysLeft 100)")
    failed = once(monitor(port=port, caFile=ca, tlsMinDaysLeft=100, tlsFailDaysLeft=95))
    assert (failed.state, failed.reason, failed.detail) == (
        "down", "tls_expiry", "certificate expires in 90.0 days (tlsFailDaysLeft 95)")
    top = once(monitor(top={"tlsMinDaysLeft": 100}, port=port, caFile=ca))
    assert top.state == "warning"
    soon = once(monitor(port=port_of(servers["soon"]), caFile=ca, tlsMinDaysLeft=3))
    assert soon.state == "up"


def test_an_expired_certificate_is_down_with_the_days_since(pki):
    # Verification fails ("certificate has expired"); a second, unverified handshake reads
    # the certificate to say by how much.
    with Loopback(drain, tls=tls_context(pki, "expired")) as server:
        result = once(monitor(port=server.port, caFile=str(pki / "ca.pem")))
        connections = server.accepted
    assert (result.state, result.reason, result.code) == ("down", "tls_expiry", 0)
    assert result.detail == "certificate expired 1.0 days ago"
    assert -1.01 < result.metrics["cert_days"] < -0.99
    assert "tls" not in result.metrics  # the verified handshake did not complete
    assert connections == 2


def test_an_expired_certificate_unverified_is_down_too(pki):
    with Loopback(drain, tls=tls_context(pki, "expired")) as server:
        result = once(monitor(port=server.port, tlsVerify=False))
        connections = server.accepted
    assert (result.state, result.reason, result.detail) == (
        "down", "tls_expiry", "certificate expired 1.0 days ago")
    assert connections == 1


def test_a_certificate_for_another_host(servers, pki):
    port, ca = port_of(servers["wrong-host"]), str(pki / "ca.pem")
    result = once(monitor(port=port, caFile=ca))
    assert (result.state, result.reason, result.code) == ("down", "tls", 0)
    assert result.detail == ("certificate: IP address mismatch, certificate is not valid for"
                             " '127.0.0.1'.")
    assert once(monitor(port=port, caFile=ca, serverName="other.example")).state == "up"
    named = once(monitor(port=port, caFile=ca, serverName="www.example"))
    assert named.detail == ("certificate: Hostname mismatch, certificate is not valid for"
                            " 'www.example'.")


def test_a_self_signed_certificate(pki):
    with Loopback(drain, tls=tls_context(pki, "self-signed")) as server:
        result = once(monitor(port=server.port, caFile=str(pki / "ca.pem")))
        # Only an expired certificate is read again: this one costs one connection.
        assert server.accepted == 1
        unverified = once(monitor(port=server.port, tlsVerify=False))
    assert (result.reason, result.detail) == ("tls", "certificate: self-signed certificate")
    assert "cert_days" not in result.metrics
    assert unverified.state == "up" and 89.9 < unverified.metrics["cert_days"] <= 90.0


def test_the_system_cas_do_not_know_the_test_ca(servers):
    result = once(monitor(port=port_of(servers["good"])))
    assert (result.reason, result.detail) == (
        "tls", "certificate: unable to get local issuer certificate")


def test_a_tls_service_that_is_not_http(pki):
    with Loopback(banner(b"* OK IMAP4rev1 ready\r\n", hold=True),
                  tls=tls_context(pki, "good")) as server:
        result = once(monitor(port=server.port, caFile=str(pki / "ca.pem")))
    assert (result.state, result.code) == ("up", 0)


def test_names_of_up_to_63_characters_a_label_are_taken():
    mon = monitor(host="x" * 63 + ".example.", serverName="a-b_c.example")
    assert mon.spec.host == "x" * 63 + ".example." and mon.spec.name == "a-b_c.example"


def client_sockets(port: int) -> list:
    """This process's sockets connected to `port` (not the test server's, accepted on it)."""
    return [c for c in psutil.Process().net_connections("tcp")
            if c.raddr and c.raddr.port == port]


@pytest.mark.parametrize("name", [".example.com", "a..b", "x" * 64 + ".com"])
def test_a_server_name_ssl_cannot_send_fails_without_leaking_the_socket(servers, name):
    # Made in code: the config refuses such names (above), a plugin or an API may not.
    port = port_of(servers["good"])
    mon = Monitor(id="t", kind="tls", target=f"127.0.0.1:{port}", timeout=2.0,
                  spec=TlsSpec(host="127.0.0.1", port=port, server_name=name, verify=False))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = once(mon)
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert (result.state, result.reason, result.code) == ("down", "other", None)
    assert result.detail.startswith(f"server name {json.dumps(name[:60])}")
    assert result.detail.endswith("cannot be sent: encoding with 'idna' codec failed"
                                  " (UnicodeError: label empty or too long)")
    assert client_sockets(port) == []


class PeerCertificate:
    """What _certificate reads of a TLS socket: the server's certificate as DER."""

    def __init__(self, der: bytes):
        self.der = der

    def getpeercert(self, binary_form: bool = False) -> bytes:
        return self.der


def test_a_certificate_cryptography_cannot_read_is_a_tls_failure(pki):
    # Its subjectAltName twice: OpenSSL's servers refuse to load such a certificate, so it
    # comes as the bytes a client's unverified handshake would read.
    from cryptography import x509

    from monitor.checks import net
    from monitor.checks.tls import _certificate

    twice = with_san_twice((pki / "good.pem").read_bytes())
    with pytest.raises(x509.DuplicateExtension):
        _ = x509.load_der_x509_certificate(twice).extensions
    with pytest.raises(net.Failure) as caught:
        _certificate(PeerCertificate(twice))
    assert (caught.value.reason, caught.value.detail) == (
        "tls", "certificate not readable: DuplicateExtension: Duplicate 2.5.29.17 extension"
               " found")


def with_san_twice(pem: bytes) -> bytes:
    """The certificate `pem` as DER with its subjectAltName extension added a second time
    (its signature no longer matches: read unverified, that does not matter)."""
    der = ssl.PEM_cert_to_DER_cert(pem.decode())
    tbs, algorithm, signature = der_children(der)
    *fields, wrapper = der_children(tbs)  # extensions: [3] { SEQUENCE { extension... } }
    (sequence,) = der_children(wrapper)
    extensions = der_children(sequence)
    (san,) = [e for e in extensions if bytes.fromhex("0603551d11") in e[:8]]  # 2.5.29.17
    sequence = der_wrap(0x30, b"".join([*extensions, san]))
    tbs = der_wrap(0x30, b"".join([*fields, der_wrap(0xA3, sequence)]))
    return der_wrap(0x30, tbs + algorithm + signature)


def der_children(tlv: bytes) -> list[bytes]:
    """The elements (tag, length and value each) inside one DER element."""
    found, at = [], der_header(tlv)[0]
    while at < len(tlv):
        header, size = der_header(tlv[at:])
        found.append(tlv[at:at + header + size])
        at += header + size
    return found


def der_header(tlv: bytes) -> tuple[int, int]:
    """(header bytes, value bytes) of the DER element `tlv` starts with."""
    if tlv[1] < 0x80:
        return 2, tlv[1]
    count = tlv[1] & 0x7F
    return 2 + count, int.from_bytes(tlv[2:2 + count], "big")


def der_wrap(tag: int, value: bytes) -> bytes:
    size = len(value)
    if size < 0x80:
        return bytes([tag, size]) + value
    raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(raw)]) + raw + value


# --- failures before a certificate ------------------------------------------------------

def read_and_close(conn):
    conn.recv(4096)  # the ClientHello: closed unread, it would make the close a reset


def read_and_reset(conn):
    conn.recv(4096)  # once the handshake has begun (a reset before is a connect failure)
    reset(conn)


@pytest.mark.parametrize(("handler", "reason", "detail"), [
    (banner(b"220 plain text\r\n", hold=True), "tls",
     "TLS handshake failed: [SSL: WRONG_VERSION_NUMBER] wrong version number"),
    (read_and_close, "tls", "the connection closed during the TLS handshake"),
    (read_and_reset, "tls", "the connection was reset during the TLS handshake"),
    (drain, "timeout", "no TLS handshake within 0.3 s"),
])
def test_a_server_that_does_not_speak_tls(handler, reason, detail):
    with Loopback(handler) as server:
        result = once(monitor(timeout=0.3, port=server.port))
    assert (result.state, result.reason, result.detail, result.code) == (
        "down", reason, detail, None)
    assert "tls" not in result.metrics and "connect" in result.metrics


def test_refused_and_unresolvable():
    refused = once(monitor(port=free_port()))
    assert (refused.reason, refused.detail, refused.code) == (
        "connect", "connection refused", None)
    unknown = once(monitor(host="imap.example.invalid", port=993))
    assert (unknown.reason, unknown.detail) == (
        "dns", "name does not resolve: imap.example.invalid")


def test_a_ca_file_gone_or_broken_after_the_config_was_read(tmp_path, servers):
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate\n")
    mon = monitor(port=port_of(servers["good"]), caFile=str(ca))
    broken = once(mon)
    assert (broken.reason, broken.detail) == (
        "other", f"cannot load caFile {ca}: [X509: NO_CERTIFICATE_OR_CRL_FOUND] no"
                 " certificate or crl found")
    ca.unlink()
    gone = once(mon)
    assert (gone.reason, gone.detail) == (
        "other", f"cannot load caFile {ca}: No such file or directory")


def test_an_expired_certificate_is_read_again_from_the_same_address(servers, pki):
    # A name of two servers (a round robin): each lookup gives another first. The second
    # handshake, reading the certificate, must ask the server that sent it.
    port = port_of(servers["expired"])
    asked = []

    def round_robin(host, port_, **kwargs):
        asked.append(host)
        ip = "127.0.0.1" if len(asked) == 1 else "127.0.0.2"  # nothing on 127.0.0.2
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]

    mon = monitor(host="shop.test", port=port, serverName="127.0.0.1",
                  caFile=str(pki / "ca.pem"))
    trace: list[str] = []
    result = check(mon, Deadline(time.monotonic() + mon.timeout, mon.timeout), trace,
                   lookup=round_robin)
    assert (result.reason, result.detail, result.code) == (
        "tls_expiry", "certificate expired 1.0 days ago", 0)
    assert asked == ["shop.test"]
    assert ("connecting again to 127.0.0.1 without verification to read the certificate"
            in trace)


# --- the trace --------------------------------------------------------------------------

def test_debug_traces_the_handshake_and_the_certificate(servers, pki):
    port = port_of(servers["good"])
    mon = monitor(port=port, caFile=str(pki / "ca.pem"))
    result, lines = registry.get("tls").debug(mon)
    assert result.state == "up"
    assert lines[0] == f"address 127.0.0.1 port {port}"
    assert re.fullmatch(r"connected in \d+\.\d ms", lines[1])
    assert lines[2] == "TLS handshake with server name 127.0.0.1 (an IP address: no SNI)"
    assert re.fullmatch(r"TLSv1\.[23], cipher \S+ \(\d+ bits\), handshake \d+\.\d ms",
                        lines[3])
    assert lines[4:8] == [f"certificate verified against caFile {pki / 'ca.pem'}",
                          "certificate subject: CN=127.0.0.1",
                          "certificate issuer: CN=Test CA",
                          "certificate names: IP:127.0.0.1"]
    assert re.fullmatch(r"certificate notAfter: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"
                        r" \((89\.9|90\.0) days left\)", lines[8])
    assert lines[9] == "verdict: up"
    assert re.fullmatch(r"response time: \d+\.\d ms", lines[10])


def test_debug_of_a_refused_certificate_still_shows_it(servers, pki):
    mon = monitor(port=port_of(servers["wrong-host"]), caFile=str(pki / "ca.pem"))
    result, lines = registry.get("tls").debug(mon)
    assert result.reason == "tls"
    assert ("certificate verification failed: IP address mismatch, certificate is not valid"
            " for '127.0.0.1'.") in lines
    assert "certificate names: DNS:other.example" in lines
    assert lines[-2].startswith("verdict: down: tls (certificate: IP address mismatch")
    expired = monitor(port=port_of(servers["expired"]), caFile=str(pki / "ca.pem"))
    result, lines = registry.get("tls").debug(expired)
    assert "certificate verification failed: certificate has expired" in lines
    assert any(re.fullmatch(r"certificate notAfter: .* \(expired 1\.0 days ago\)", line)
               for line in lines)
    assert lines[-2] == "verdict: down: tls_expiry (certificate expired 1.0 days ago)"


def test_debug_says_when_the_certificate_was_not_verified(servers):
    mon = monitor(port=port_of(servers["self-signed"]), tlsVerify=False)
    result, lines = registry.get("tls").debug(mon)
    assert result.state == "up"
    assert "certificate not verified (tlsVerify is false)" in lines
    assert "certificate issuer: CN=127.0.0.1" in lines


def test_debug_of_a_warning(servers, pki):
    mon = monitor(port=port_of(servers["soon"]), caFile=str(pki / "ca.pem"))
    result, lines = registry.get("tls").debug(mon)
    assert lines[-2] == ("verdict: warning: tls_expiry (certificate expires in 5.0 days"
                         " (tlsMinDaysLeft 14))")


# --- the plugin hook --------------------------------------------------------------------

def test_plugin_checks_the_certificate_of_an_https_site(pki):
    site = http_monitor("https://ops:pw-secret@www.example.com:8443/health?token=t0k",
                        tls_verify=False, ca_file=str(pki / "ca.pem"),
                        expiry=certs.Expiry(30.0, 2.0))
    # The site's thresholds, which the config made from its own keys or the top level's.
    parsed = registry.get("tls").plugin(site, {"tlsMinDaysLeft": 60.0, "tlsFailDaysLeft": 5.0})
    assert parsed is not None
    assert parsed.target == "www.example.com:8443" and parsed.secrets == ()
    assert parsed.spec == TlsSpec(host="www.example.com", port=8443,
                                  server_name="www.example.com", verify=False,
                                  ca_file=str(pki / "ca.pem"), expiry=certs.Expiry(30.0, 2.0))
    plain = registry.get("tls").plugin(http_monitor("https://[::1]/"), {})
    assert plain is not None and plain.target == "[::1]:443"
    assert plain.spec.expiry == certs.Expiry(14.0, 0.0) and plain.spec.verify


def test_plugin_monitors_take_each_site_s_thresholds():
    monitors = parse_config(json.dumps({
        "tlsMinDaysLeft": 30, "plugins": ["tls"],
        "websites": [{"URL": "https://a.example/", "tlsMinDaysLeft": 20, "tlsFailDaysLeft": 7},
                     {"URL": "https://b.example/"}]})).monitors
    expiry = {m.id: m.spec.expiry for m in monitors if m.kind == "tls"}
    assert expiry == {"https://a.example/tls": certs.Expiry(20.0, 7.0),
                      "https://b.example/tls": certs.Expiry(30.0, 0.0)}


def test_plugin_skips_plain_http():
    assert registry.get("tls").plugin(http_monitor("http://example.com/"), {}) is None


def test_plugin_monitor_runs(servers, pki):
    site = http_monitor(servers["soon"].url + "/", ca_file=str(pki / "ca.pem"))
    parsed = registry.get("tls").plugin(site, {"tlsMinDaysLeft": 14.0, "tlsFailDaysLeft": 0.0})
    mon = Monitor(id=f"{site.id}/tls", kind="tls", target=parsed.target, spec=parsed.spec,
                  timeout=2.0)
    result = once(mon)
    assert (result.monitor_id, result.state, result.reason) == (
        f"{site.id}/tls", "warning", "tls_expiry")


# --- the command line -------------------------------------------------------------------

def test_check_name_prints_the_certificate_and_exits_by_the_verdict(servers, pki, tmp_path):
    config = tmp_path / "config.json"
    ca = str(pki / "ca.pem")
    config.write_text(json.dumps({"websites": [
        {"type": "tls", "name": "soon", "host": "127.0.0.1", "port": port_of(servers["soon"]),
         "caFile": ca},
        {"type": "tls", "name": "old", "host": "127.0.0.1",
         "port": port_of(servers["expired"]), "caFile": ca},
    ]}))

    def check_cli(name):
        return run_app(["check", "-c", str(config), name], ROOT, timeout=30)

    soon, old = check_cli("soon"), check_cli("old")
    assert (soon.returncode, soon.stderr) == (0, ""), soon.stdout
    out = soon.stdout.splitlines()
    assert out[0] == f"== soon (127.0.0.1:{port_of(servers['soon'])}) [tls] =="
    assert "  certificate subject: CN=127.0.0.1" in out
    assert any(re.fullmatch(r"  certificate notAfter: .* \((4\.9|5\.0) days left\)", line)
               for line in out)
    assert re.fullmatch(r'WARNING reason=tls_expiry detail="certificate expires in 5\.0 days'
                        r' \(tlsMinDaysLeft 14\)" code=0 duration=\d+\.\dms', out[-1])
    assert (old.returncode, old.stderr) == (1, ""), old.stdout
    assert re.fullmatch(r'DOWN reason=tls_expiry detail="certificate expired 1\.0 days ago"'
                        r' code=0 duration=\d+\.\dms', old.stdout.splitlines()[-1])
