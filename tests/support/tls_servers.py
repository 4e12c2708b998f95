"""Real TLS servers on loopback with certificates made by the tests: a CA, and server
certificates signed by it that are good, for the wrong host, expired; and a self-signed one."""

import datetime
import ipaddress
import socket
import ssl
import threading

import h2.config
import h2.connection
import h2.events
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NOW = datetime.datetime.now(datetime.UTC)
DAY = datetime.timedelta(days=1)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _cert(subject: str, key, issuer_name, issuer_key, *, ca=False, ip=None, dns=None,
          not_before=NOW - DAY, not_after=NOW + 90 * DAY):
    builder = (x509.CertificateBuilder()
               .subject_name(_name(subject)).issuer_name(issuer_name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    names = [x509.IPAddress(ipaddress.ip_address(ip))] if ip else []
    names += [x509.DNSName(dns)] if dns else []
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def make_pki(folder):
    """A CA (written to ca.pem for sites to trust) and server certificates signed by it."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("Test CA", ca_key, _name("Test CA"), ca_key, ca=True, not_after=NOW + 3650 * DAY)
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    key = ec.generate_private_key(ec.SECP256R1())
    certs = {
        "good": _cert("127.0.0.1", key, ca.subject, ca_key, ip="127.0.0.1"),
        "wrong-host": _cert("other.example", key, ca.subject, ca_key, dns="other.example"),
        "expired": _cert("127.0.0.1", key, ca.subject, ca_key, ip="127.0.0.1",
                         not_before=NOW - 10 * DAY, not_after=NOW - DAY),
        # Valid, but 5 days from expiry: below tlsMinDaysLeft's default of 14.
        "soon": _cert("127.0.0.1", key, ca.subject, ca_key, ip="127.0.0.1",
                      not_after=NOW + 5 * DAY),
        "self-signed": _cert("127.0.0.1", key, _name("127.0.0.1"), key, ip="127.0.0.1"),
    }
    key_file = folder / "key.pem"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    for label, cert in certs.items():
        (folder / f"{label}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return folder


class TLSServer:
    """Serves one certificate on 127.0.0.1; `/drip` sends headers then a byte every 0.2 s."""

    alpn: tuple[str, ...] = ()  # protocols offered by ALPN

    def __init__(self, cert, key):
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert, key)
        if self.alpn:
            self.context.set_alpn_protocols(list(self.alpn))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"https://127.0.0.1:{self.listener.getsockname()[1]}"

    def _serve(self):
        while not self.stop.is_set():
            try:
                raw, _ = self.listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self._answer, args=(raw,), daemon=True).start()

    def _answer(self, raw):
        raw.settimeout(5)
        try:
            with self.context.wrap_socket(raw, server_side=True) as tls:
                request = tls.recv(4096)
                if request.startswith(b"GET /drip "):
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                    while not self.stop.wait(0.2):
                        tls.sendall(b".")
                else:
                    tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        except OSError:
            pass  # the client refused our certificate or went away: its right

    def close(self):
        self.stop.set()
        self.thread.join(2)
        self.listener.close()


LABELS = ("good", "wrong-host", "expired", "self-signed", "soon")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def servers(pki):
    running = {label: TLSServer(pki / f"{label}.pem", pki / "key.pem")
               for label in LABELS}
    yield running
    for server in running.values():
        server.close()


class H2Server(TLSServer):
    """HTTP/2 over TLS (ALPN "h2"), as most public https sites answer: `/down` is a 503,
    anything else a 200 "ok". The h2 library does the framing."""

    alpn = ("h2",)

    def __init__(self, cert, key):
        self.protocols: list[str | None] = []  # what each connection negotiated
        super().__init__(cert, key)

    def _answer(self, raw):
        raw.settimeout(5)
        try:
            with self.context.wrap_socket(raw, server_side=True) as tls:
                self.protocols.append(tls.selected_alpn_protocol())
                conn = h2.connection.H2Connection(h2.config.H2Configuration(
                    client_side=False, header_encoding="utf-8"))
                conn.initiate_connection()
                tls.sendall(conn.data_to_send())
                while data := tls.recv(65536):
                    for event in conn.receive_data(data):
                        if isinstance(event, h2.events.RequestReceived):
                            path = dict(event.headers).get(":path", "/")
                            status = "503" if path == "/down" else "200"
                            conn.send_headers(event.stream_id, [
                                (":status", status), ("content-length", "2")])
                            conn.send_data(event.stream_id, b"ok", end_stream=True)
                    tls.sendall(conn.data_to_send())
        except OSError:
            pass  # the client went away: its right


@pytest.fixture(scope="module")
def h2_server(pki):
    server = H2Server(pki / "good.pem", pki / "key.pem")
    yield server
    server.close()
