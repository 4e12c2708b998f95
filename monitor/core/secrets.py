"""Secrets in the config: `${VAR}` expansion, and keeping credentials out of every output.

A site's URL may carry `user:password@` and secret query values (`?token=...`), and its
headers may carry `Authorization` and the like. The check needs them; nothing else does.
So a site is keyed, stored, printed and alerted on by its masked URL, and any text that
could echo a request back (an error detail, a crash report) is passed through `redact`.
"""

from __future__ import annotations

import os
import re
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit

MASK = "***"
_VAR = re.compile(r"\$(\$)?\{([^}]*)\}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Header and query names whose values are credentials, matched on whole words of the name
# ("X-Api-Key", "access_token", "sessionId"), so that "author" or "keyword" stay visible.
_WORDS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")
_SECRET_WORDS = frozenset({
    "auth", "authorization", "token", "secret", "password", "passwd", "pass", "pwd",
    "cookie", "session", "sessionid", "signature", "sig", "key", "apikey", "credential",
    "credentials", "jwt", "bearer", "otp"})
_SECRET_ENDINGS = ("token", "secret", "password", "apikey")
MIN_SECRET = 3  # shorter values would mask innocent text everywhere


class MissingVariable(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


class BadReference(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def expand(text: str, env: Mapping[str, str] | None = None,
           found: list[str] | None = None) -> str:
    """Replace `${NAME}` with the environment variable NAME; `$${` stays a literal `${`.
    The values substituted are appended to `found`. Raise MissingVariable or BadReference."""
    environ = os.environ if env is None else env

    def substitute(match: re.Match[str]) -> str:
        if match.group(1):
            return "${" + match.group(2) + "}"
        name = match.group(2)
        if not _NAME.fullmatch(name):
            raise BadReference(match.group(0))
        if name not in environ:
            raise MissingVariable(name)
        if found is not None:
            found.append(environ[name])
        return environ[name]

    return _VAR.sub(substitute, text)


def is_sensitive(name: str) -> bool:
    words = [w.lower() for w in _WORDS.findall(name)]
    return any(w in _SECRET_WORDS or w.endswith(_SECRET_ENDINGS) for w in words)


def display_url(url: str) -> str:
    """The URL as it may be shown: its password and secret query values masked."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = f"{parts.username or ''}:{MASK}@{netloc.rpartition('@')[2]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_sensitive(key) for key, _ in pairs):
            query = urlencode([(k, MASK if is_sensitive(k) else v) for k, v in pairs],
                              safe="*")
    if netloc == parts.netloc and query == parts.query:
        return url
    return parts._replace(netloc=netloc, query=query).geturl()


def url_secrets(url: str) -> list[str]:
    parts = urlsplit(url)
    found = [parts.password] if parts.password else []
    found += [v for k, v in parse_qsl(parts.query, keep_blank_values=True) if is_sensitive(k)]
    return found


def header_secrets(headers: Iterable[tuple[str, str]]) -> list[str]:
    found = []
    for name, value in headers:
        if is_sensitive(name):
            found.append(value)
            # "Bearer abc": the credential alone may be echoed without its scheme.
            scheme, _, credential = value.partition(" ")
            if credential and scheme.isalpha():
                found.append(credential.strip())
    return found


def encoded_forms(values: Iterable[str]) -> list[str]:
    """Each secret as written, and as it appears percent-encoded in a URL an error quotes."""
    result = []
    for value in values:
        result += [value, quote(value, safe=""), quote(value, safe="/:@"), quote_plus(value)]
    return result


def secret_set(values: Iterable[str]) -> tuple[str, ...]:
    """Distinct secrets, longest first so that a secret containing another is masked whole."""
    return tuple(sorted({v for v in values if len(v) >= MIN_SECRET}, key=len, reverse=True))


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


# The secrets of the configs loaded in this process, for text that has no site at hand (an
# unexpected error, a probe process's fatal error). The last few loads are kept: checks of
# the previous config may still be in flight after a reload, and a config reloaded all day
# must not grow this without end.
KNOWN_GENERATIONS = 3
_generations: deque[frozenset[str]] = deque(maxlen=KNOWN_GENERATIONS)
_generations_lock = threading.Lock()
_known: tuple[str, ...] = ()


def remember(values: Iterable[str]) -> None:
    """Record the secrets of one loaded config (every site's, the canary's) for
    `redact_known`, in the encoded forms an error may quote them in."""
    global _known
    forms = frozenset(secret_set(encoded_forms(values)))
    with _generations_lock:
        _generations.append(forms)
        # Replaced whole: a reader on another thread sees the old tuple or the new one.
        _known = secret_set(value for generation in _generations for value in generation)


def redact_known(text: str) -> str:
    """`text` with every secret of the recently loaded configs masked."""
    return redact(text, _known)
