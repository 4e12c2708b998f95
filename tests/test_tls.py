"""HTTPS: the whole-check timeout holds after the TLS handshake too."""

import shutil
import socket
import ssl
import subprocess
import threading
import time

import pytest

from monitor import http_check
from monitor.checks import run_check
from tests.conftest import make_site


@pytest.fixture(scope="module")
def dripping_tls_server(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make the test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                raw, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=drip, args=(raw,), daemon=True).start()

    def drip(raw):
        try:
            with context.wrap_socket(raw, server_side=True) as tls:
                tls.recv(4096)
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                while not stop.wait(0.2):
                    tls.sendall(b".")
        except OSError:
            pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}/", str(cert)
    stop.set()
    thread.join(2)
    listener.close()


def test_https_drip_is_cut_at_the_timeout(dripping_tls_server, watchdog):
    url, cert = dripping_tls_server
    http_check._session().verify = cert  # trust the test's own certificate, this thread only
    try:
        started = time.monotonic()
        result = run_check(make_site(url, timeout=1.0), watchdog)
        elapsed = time.monotonic() - started
    finally:
        http_check._session().verify = True
    assert (result.available, result.status, result.reason) == (False, 200, "timeout")
    assert elapsed < 1.5


def test_untrusted_certificate_is_a_tls_failure(dripping_tls_server, watchdog):
    url, _cert = dripping_tls_server
    result = run_check(make_site(url, timeout=1.0), watchdog)
    assert (result.available, result.reason) == (False, "tls")
    assert result.detail.startswith("certificate: self")
