"""One notification to one provider through apprise, with its failure said in one line.

A provider's URL is a secret: it is handed to apprise and to nothing else. Each send is
bounded by the provider's connect and read timeouts (apprise's `cto`/`rto` URL arguments,
set from `timeout` unless the URL sets them) and runs on the caller's thread (apprise's own
worker pool is shared by the whole process: hanging providers would occupy it).
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Protocol
from urllib.parse import quote, unquote

from monitor.core import secrets

DEFAULT_TIMEOUT = 10.0  # seconds, for connecting and for each read
MAX_ERROR = 200  # characters of an error: stored with the outbox row and shown by -a
# Schemes whose payload takes extra fields from `:name=value` URL arguments: the outbox
# key goes there, so that a receiver can tell a retry from a new notification.
KEYED_SCHEMES = frozenset({"json", "jsons", "form", "forms"})
KEY_FIELD = "key"
TEST_TITLE = "Test notification from uptime-monitor on {host}"

_EVENT_TYPES = {"alert": "failure", "reminder": "failure", "recovery": "success",
                "warning": "warning"}


class Provider(Protocol):
    """What sending needs of a configured provider (monitor.config.notify.Provider)."""

    @property
    def name(self) -> str: ...

    @property
    def url(self) -> str: ...  # the apprise URL: a secret

    @property
    def shown(self) -> str: ...  # the masked form for messages ("json://***")

    @property
    def secrets(self) -> tuple[str, ...]: ...  # masked in any error text


class UnknownProvider(ValueError):
    """`notify_test` was asked for names no provider has."""

    def __init__(self, names: Sequence[str], known: Sequence[str]) -> None:
        super().__init__(", ".join(names))
        self.names = tuple(names)
        self.known = tuple(known)


def delivery_url(url: str, key: str | None, timeout: float) -> str:
    """`url` with the outbox key as a payload field (webhooks that take one) and the
    connect/read timeouts, each unless the URL gives it already."""
    scheme = url.partition("://")[0].lower()
    # apprise reads everything after the first "?" as its arguments, names lowercased.
    _, mark, query = url.partition("?")
    given = {unquote(pair.partition("=")[0]).strip().lower()
             for pair in re.split("[&;]", query) if pair}
    extra = []
    if key is not None and scheme in KEYED_SCHEMES and f":{KEY_FIELD}" not in given:
        extra.append(f":{KEY_FIELD}={quote(key, safe='')}")
    extra += [f"{name}={timeout:g}" for name in ("cto", "rto") if name not in given]
    if not extra:
        return url
    return url + ("&" if mark else "?") + "&".join(extra)


_setup_lock = threading.Lock()
_set_up = False


def _open_apprise_logs() -> None:
    """apprise's debug records say why a send failed ("Connection refused"): its logger is
    opened to them, once, so that each call's own capture sees them (apprise 2's per-call
    result logs; LogCapture, one handler for the whole process, would mix the logs of
    senders running at once). They quote URLs and payloads: no other handler of the
    process gets them (no propagation)."""
    global _set_up
    if _set_up:
        return
    with _setup_lock:
        logger = logging.getLogger("apprise")
        if logger.getEffectiveLevel() > logging.DEBUG:
            logger.setLevel(logging.DEBUG)
        logger.propagate = False
        _set_up = True


def send(provider: Provider, title: str, body: str, key: str | None = None,
         timeout: float = DEFAULT_TIMEOUT, event: str | None = None) -> str | None:
    """Send one notification; None when the provider took it, else why not: one printable
    line without secrets. `key` (the outbox key) reaches webhook receivers as the payload
    field "key"; `event` chooses apprise's notification type (alert: failure...)."""
    import apprise  # here: 0.1 s to import, for configs with providers only

    _open_apprise_logs()
    try:
        # Sent on this very thread: apprise would otherwise hand the call to its worker
        # pool (a few threads for the whole process), where providers that hang would
        # hold up every other. No service_timeout: the socket timeouts bound the send.
        app = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False,
                                                         service_timeout=0))
        if not app.add(delivery_url(provider.url, key, timeout)):
            return "not a URL apprise can send to"
        result = app.notify(body=body, title=title,
                            notify_type=_EVENT_TYPES.get(event or "", "info"),
                            log_level=logging.DEBUG)
        if result:
            return None
        entries = [(entry.level, entry.message) for entry in result.logs()]
        error = reason(entries)
    except Exception as exc:  # noqa: BLE001 - a plugin's bug is this provider's failure
        error = f"unexpected {type(exc).__name__}: {exc}"
    return clean(error, _secrets_of(provider))


def _secrets_of(provider: Provider) -> tuple[str, ...]:
    # The provider's own list, and the URL's parts found here: a provider made by hand
    # (a test, a plugin) may list none.
    url = provider.url
    found = [url, url.partition("://")[2], *secrets.url_secrets(url)]
    return secrets.secret_set([*provider.secrets, *secrets.encoded_forms(found)])


_HTTP = re.compile(r"\berror=(?P<code>\d{3})\b")
_TIMEOUT = re.compile(r"(?P<kind>read|connect) timeout=(?P<seconds>[0-9.]+)")
_CERT = re.compile(r"certificate verify failed: ([^(\"')]*)")
# Causes found in an exception's text (requests, urllib3, smtplib, ssl), in the words of the
# heartbeat's messages: what the line says instead of the exception's pages of repr.
_CAUSES = (
    ("connection refused", "connection refused"),
    ("nameresolutionerror", "cannot resolve the host"),
    ("name or service not known", "cannot resolve the host"),
    ("temporary failure in name resolution", "cannot resolve the host"),
    ("remotedisconnected", "connection closed without an answer"),
    ("server disconnected", "connection closed without an answer"),
    ("connection unexpectedly closed", "connection closed without an answer"),
    ("connection reset", "connection reset"),
    ("network is unreachable", "network unreachable"),
    ("no route to host", "no route to host"),
)


def reason(entries: Iterable[tuple[str, str]]) -> str:
    """Why a send failed, from apprise's log entries (level, message) of the call."""
    warnings: list[str] = []
    details: list[str] = []
    for level, message in entries:
        if level in ("WARNING", "ERROR", "CRITICAL"):
            warnings.append(message)
        elif "Exception:" in message:  # apprise's "Socket Exception: ..." debug lines
            details.append(message.partition("Exception:")[2].strip())
    for message in warnings:
        http = _HTTP.search(message)
        if http:
            return f"HTTP {http.group('code')}"
    for detail in details:
        cause = _cause(detail)
        if cause:
            return cause
    if details:
        # Something else (a mail server's refusal...): its own words.
        return details[-1]
    if warnings:
        return warnings[-1]
    return "not sent (apprise gave no reason)"


def _cause(detail: str) -> str | None:
    lowered = detail.lower()
    timeout = _TIMEOUT.search(detail)
    if timeout:
        seconds = float(timeout.group("seconds"))
        return (f"no answer within {seconds:g} s" if timeout.group("kind") == "read"
                else f"cannot connect within {seconds:g} s")
    if "timed out" in lowered:
        return "timed out"
    if "certificate verify failed" in lowered:
        found = _CERT.search(detail)
        return ("TLS error: certificate verify failed" + (f": {found.group(1).strip()}"
                                                          if found else ""))
    if "ssl" in lowered:
        return "TLS error"
    for needle, why in _CAUSES:
        if needle in lowered:
            return why
    return None


def clean(text: str, secret_values: Iterable[str]) -> str:
    """One printable line of at most MAX_ERROR characters, secrets masked (before the
    cut, so that no part of a secret survives)."""
    text = secrets.redact(text, secret_values)
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    if len(text) > MAX_ERROR:
        text = text[:MAX_ERROR - 3].rstrip() + "..."
    return text or "not sent"


def trial_message(host: str | None = None) -> tuple[str, str]:
    """The title and body of `notify test`."""
    host = host or socket.gethostname()
    when = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return (TEST_TITLE.format(host=host),
            f"This is a test notification from uptime-monitor on {host}, sent at {when}."
            " Alerts and recoveries of the monitors will be sent here.")


def notify_test(providers: Sequence[Provider], names: Sequence[str] | None = None,
                timeout: float = DEFAULT_TIMEOUT) -> list[tuple[str, str | None]]:
    """Send a test message to the named providers (all when none are named), at once and
    directly (not through the outbox): each (name, error or None), in the providers'
    order. Raise UnknownProvider for a name that no provider has."""
    known = [p.name for p in providers]
    if names:
        unknown = [n for n in names if n not in known]
        if unknown:
            raise UnknownProvider(unknown, known)
        chosen = [p for p in providers if p.name in set(names)]
    else:
        chosen = list(providers)
    title, body = trial_message()
    stamp = int(time.time())
    results: dict[str, str | None] = {}

    def one(provider: Provider) -> None:
        results[provider.name] = send(provider, title, body, f"test:{stamp}:{provider.name}",
                                      timeout)

    threads = [threading.Thread(target=one, args=(p,), name=f"notify-test-{p.name}",
                                daemon=True) for p in chosen]
    for thread in threads:
        thread.start()
    # A send is bounded by its timeouts per connect and read; a plugin making several
    # requests takes longer: give it some, then report it as not answering.
    end = time.monotonic() + 3 * timeout + 1
    for thread in threads:
        thread.join(max(0.0, end - time.monotonic()))
    return [(p.name, results[p.name] if p.name in results
             else f"no answer within {3 * timeout + 1:g} s") for p in chosen]
