"""Real notification receivers on loopback, for tests that deliver through apprise URLs: a
webhook receiver (json:// and form:// post to it) and an SMTP server (mailto://).

Both record what they receive, let a test wait for a number of messages, and stop when
closed (a `with` block): a hanging request is released at close, so nothing outlives the
test.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass(frozen=True)
class Request:
    """One request as the receiver saw it: `body` is the JSON object or the form fields
    (multipart or urlencoded), `raw` the bytes."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict
    raw: bytes
    status: int  # what the receiver answered (0: it never answered)


class _Recorder:
    """Messages received, with a wait for a count of them."""

    def __init__(self) -> None:
        self._items: list = []
        self._cond = threading.Condition()

    def add(self, item: object) -> None:
        with self._cond:
            self._items.append(item)
            self._cond.notify_all()

    def items(self) -> list:
        with self._cond:
            return list(self._items)

    def wait_for(self, count: int, timeout: float = 10.0) -> list:
        """At least `count` items, waiting up to `timeout` seconds; fails the test else."""
        end = time.monotonic() + timeout
        with self._cond:
            while len(self._items) < count:
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"received {len(self._items)} of {count} within"
                                         f" {timeout:g} s")
                self._cond.wait(left)
            return list(self._items)


def _parse_body(content_type: str, raw: bytes) -> dict:
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json":
        value = json.loads(raw or b"null")
        return value if isinstance(value, dict) else {"": value}
    if kind == "multipart/form-data":
        message = email.message_from_bytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + raw, policy=email.policy.HTTP)
        fields = {}
        for part in message.iter_parts():  # type: ignore[attr-defined]
            name = part.get_param("name", header="content-disposition")
            fields[name] = part.get_content()
        return fields
    if kind == "application/x-www-form-urlencoded":
        return dict(parse_qsl(raw.decode(), keep_blank_values=True))
    return {}


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that records each request and answers by its mode:

    - "ok": 200;
    - "fail": `status` (500) to the first `failures` requests, then 200;
    - "hang": never answers (the request is recorded), until the receiver is closed.

    The mode may be changed while it runs (`receiver.mode = "ok"`).
    """

    def __init__(self, mode: str = "ok", failures: int = 0, status: int = 500) -> None:
        if mode not in ("ok", "fail", "hang"):
            raise ValueError(mode)
        self.mode = mode
        self.failures = failures
        self.status = status
        self._recorder = _Recorder()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._failed = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        name="webhook-receiver", daemon=True)

    def url(self, scheme: str = "json", path: str = "/hook", auth: str = "",
            query: str = "") -> str:
        """An apprise URL of this receiver: `scheme` json, form, xml..."""
        at = f"{auth}@" if auth else ""
        return f"{scheme}://{at}127.0.0.1:{self.port}{path}" + (f"?{query}" if query else "")

    def _answer(self) -> int:
        """The status for the next request (0: hang)."""
        with self._lock:
            if self.mode == "hang":
                return 0
            if self.mode == "fail" and self._failed < self.failures:
                self._failed += 1
                return self.status
            return 200

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                if len(raw) < length:  # the sender died between headers and body (urllib3
                    self.close_connection = True  # sends them apart): nothing was delivered
                    return
                status = receiver._answer()
                receiver._recorder.add(Request(
                    self.command, self.path, dict(self.headers.items()),
                    _parse_body(self.headers.get("Content-Type", ""), raw), raw, status))
                if status == 0:
                    receiver._closed.wait()  # hang until the test closes the receiver
                    self.close_connection = True
                    return
                text = b"ok" if status == 200 else b"Internal Server Error"
                self.send_response(status)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            do_POST = do_GET = do_PUT = _any

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: the test asserts on what was recorded

        return Handler

    @property
    def requests(self) -> list[Request]:
        return self._recorder.items()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Request]:
        return self._recorder.wait_for(count, timeout)

    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def close(self) -> None:
        self._closed.set()  # releases hanging requests
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Mail:
    sender: str
    recipients: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def text(self) -> str:
        part = self.message.get_body(("plain", "html"))
        return part.get_content() if part is not None else ""  # type: ignore[attr-defined]


class _Handler:
    def __init__(self, record: Callable[[Mail], None], reject: bool) -> None:
        self._record = record
        self.reject = reject

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if self.reject:
            # As real servers do, the refusal names the address.
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        self._record(Mail(str(envelope.mail_from), tuple(envelope.rcpt_tos),
                          message))  # type: ignore[arg-type]
        return "250 OK"


class _BoundController(Controller):
    """aiosmtpd's controller on a socket bound beforehand to a free port: its readiness
    probe connects to `port`, so port 0 cannot be passed through."""

    def __init__(self, handler: object, sock: socket.socket) -> None:
        self._sock = sock
        super().__init__(handler, hostname="127.0.0.1", port=sock.getsockname()[1])

    def _create_server(self):  # type: ignore[no-untyped-def]
        return self.loop.create_server(self._factory_invoker, sock=self._sock)


class SmtpReceiver:
    """A plain SMTP server on 127.0.0.1 (no TLS, no authentication) that records each
    message, or refuses every recipient (`reject`). apprise reaches it with `url(...)`."""

    def __init__(self, reject: bool = False) -> None:
        self._recorder = _Recorder()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._handler = _Handler(self._recorder.add, reject)
        self._controller = _BoundController(self._handler, sock)

    def url(self, sender: str = "monitor@example.com", to: str = "ops@example.com") -> str:
        return (f"mailto://127.0.0.1:{self.port}?mode=insecure&from={sender}&to={to}")

    @property
    def messages(self) -> list[Mail]:
        return self._recorder.items()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Mail]:
        return self._recorder.wait_for(count, timeout)

    def start(self) -> SmtpReceiver:
        self._controller.start()
        return self

    def close(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
