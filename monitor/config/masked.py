"""A monitor's config entry as clients see it, its secrets masked, and the masked values a
client sends back unchanged taken for the stored secrets.

The entry is the file's own (a `${VAR}` stays a reference: its value is never in it); what
it holds literally of the monitor's secrets (a URL's password or token, a secret header's
value, a push token) is masked as `***`, with the same rules as every message (the
loader's list of the monitor's secrets; a URL's password and secret query values always).
A client that edits a monitor sends its entry back: a value still equal to the masked one
it was shown keeps the stored secret, so that a change of the name does not write `***`
as the password. A value changed around a mask (a new host, the password still `***`) is
taken as written: the mask cannot be told from a password of three stars."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from monitor.core import secrets

URL_KEYS = frozenset({"URL"})  # whose value is a URL: its password masked however short


def masked(entry: Any, known: Collection[str], key: str = "") -> Any:
    """`entry` with every literal secret masked (`known`: the monitor's secrets)."""
    if isinstance(entry, dict):
        return {name: masked(value, known, name) for name, value in entry.items()}
    if isinstance(entry, list):
        return [masked(value, known, key) for value in entry]
    if isinstance(entry, str):
        text = secrets.display_url(entry) if key in URL_KEYS else entry
        return secrets.redact(text, secrets.secret_set(known))
    return entry


def unmasked(sent: Any, shown: Any, stored: Any) -> Any:
    """What to write of `sent`: each value that is still the masked one clients were
    `shown` (a mask in it) is the `stored` one; the rest as sent."""
    if isinstance(sent, dict) and isinstance(shown, dict) and isinstance(stored, dict):
        return {key: unmasked(value, shown[key], stored[key])
                if key in shown and key in stored else value for key, value in sent.items()}
    if (isinstance(sent, list) and isinstance(shown, list) and isinstance(stored, list)
            and len(sent) == len(shown) == len(stored)):
        return [unmasked(*values) for values in zip(sent, shown, stored, strict=True)]
    if isinstance(sent, str) and sent == shown and secrets.MASK in sent:
        return stored
    return sent
