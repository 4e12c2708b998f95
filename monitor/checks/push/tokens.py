"""A push monitor's token: the credential of its push URL (`/api/v1/push/TOKEN`), as the
config gives it (`token`, `${VAR}` advised) or generated when it gives none.

A generated token is an HMAC of the monitor's id under a random key made once and kept in
an owner-only file beside the database (`monitoring.db.push-key`): the same token across
restarts, reloads and every process that serves that database (`serve` beside `-m`), and
a new one for a monitor whose id changes. The key is kept out of the database on purpose:
the database holds no secret, so it may be read by other programs (or copied for them)
without handing out the power to push; the key file goes with it in a backup."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import re
import secrets as random
from pathlib import Path

from monitor.core.errors import MonitorError

MIN_TOKEN, MAX_TOKEN = 16, 128
# Unreserved URL characters only: a token is a segment of the push URL's path, sent by
# cron jobs with curl, and must need no escaping.
TOKEN = re.compile(rf"[A-Za-z0-9._~-]{{{MIN_TOKEN},{MAX_TOKEN}}}")
TOKEN_RULE = (f"{MIN_TOKEN} to {MAX_TOKEN} characters of letters, digits, '-', '_', '.' and"
              " '~' (it is a part of the push URL)")
KEY_SUFFIX = ".push-key"
KEY_BYTES = 32
GENERATED_CHARS = 32  # of base64url: 192 bits


class PushKeyError(MonitorError):
    """The file of the key that generated tokens are made with cannot be read or made."""


def valid(token: str) -> bool:
    return TOKEN.fullmatch(token) is not None


def key_file(db_path: str | Path) -> Path:
    text = str(db_path)
    if text.startswith(("postgresql://", "postgres://")):
        # No folder beside a database server: the working folder's, named by the server
        # and database only (never by the URL's password).
        from urllib.parse import urlsplit

        parts = urlsplit(text)
        name = f"{parts.hostname or 'local'}-{parts.port or 5432}-{parts.path.strip('/')}"
        return Path("postgresql-" + "".join(c if c.isalnum() or c in ".-_" else "_"
                                            for c in name) + KEY_SUFFIX)
    return Path(f"{db_path}{KEY_SUFFIX}")


def load_key(db_path: str | Path) -> bytes:
    """The key beside the database, made (owner-only) by the first process that needs it.
    Two processes that make it at once agree: the file appears whole (a link of a file
    already written), and the second reads the first's."""
    path = key_file(db_path)
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise PushKeyError(f"{path}: cannot read the push-token key: {exc.strerror}") from None
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{random.token_hex(4)}")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="ascii") as file:
            file.write(random.token_hex(KEY_BYTES) + "\n")
        with contextlib.suppress(FileExistsError):  # another made it first: theirs
            os.link(temporary, path)
        return _read(path)
    except OSError as exc:
        raise PushKeyError(f"{path}: cannot make the push-token key: {exc.strerror}"
                           ) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temporary)


def _read(path: Path) -> bytes:
    text = path.read_text(encoding="ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < KEY_BYTES // 2:
        raise PushKeyError(f"{path}: not a push-token key (delete it to make a new one;"
                           " every generated push token then changes)")
    return key


def generated(key: bytes, monitor_id: str) -> str:
    """The token of a monitor without one of its own."""
    digest = hmac.new(key, b"push-token\0" + monitor_id.encode("utf-8"), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()).decode("ascii")[:GENERATED_CHARS]


def fingerprint(token: str) -> bytes:
    """What tokens are looked up by: a hash, so that finding one takes the same time
    whatever the token sent shares with a real one."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
