"""The web server's keys of `config.json`: the API tokens (`apiTokens`).

A token is a secret: `${VAR}` expanded, masked in every message, compared in constant time
by the server, never stored or logged. Each has a name (what logs and the audit of a change
say instead of the token) and a scope: `read` (every GET) or `write` (also every change).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from monitor.core import schemas
from monitor.core.fields import Fields, json_key

TOP_KEYS = ("apiTokens",)
TOKEN_KEYS = ("name", "token", "scope")
SCOPES = ("read", "write")
# Shorter tokens are guessable over the network; 16 characters of a random source are not.
MIN_TOKEN = 16
MAX_TOKEN = 512

HELP = {
    "apiTokens": ("none", "the tokens the web server's API takes (`Authorization: Bearer"
                          " TOKEN`): a list of objects with `name`, `token`, `scope`; with"
                          " any, every API call needs one; required to listen beyond"
                          " loopback"),
}
TOKEN_HELP = {
    "name": ("required", "what logs and messages call the token (never the token itself);"
                         " unique"),
    "token": ("required", f"the secret, {MIN_TOKEN} to {MAX_TOKEN} printable ASCII"
                          " characters; `${VAR}` allowed (and advised)"),
    "scope": ("`read`", "`read`: every GET; `write`: also every change"),
}

# The keys' JSON Schema fragments: a token of its length, or one from ${VAR}.
TOKEN_SCHEMA = schemas.obj(
    {"name": schemas.text(),
     "token": {"type": "string", "pattern": f"^(\\S{{{MIN_TOKEN},{MAX_TOKEN}}}|.*\\$\\{{.*)$"},
     "scope": {"enum": list(SCOPES)}},
    TOKEN_HELP, ("name", "token"))
SCHEMA = {"apiTokens": {"type": "array", "items": TOKEN_SCHEMA}}


@dataclass(frozen=True)
class ApiToken:
    name: str
    scope: str
    token: str = field(repr=False)  # a secret: never in a repr

    def allows(self, scope: str) -> bool:
        return scope == "read" or self.scope == "write"


def api_tokens(fields: Fields, doc: dict[str, Any]) -> tuple[ApiToken, ...]:
    """The `apiTokens` of a config document, checked: names and tokens unique."""
    if "apiTokens" not in doc:
        return ()
    entries = doc["apiTokens"]
    if not isinstance(entries, list):
        raise fields.fail("apiTokens", "must be a list of objects with \"name\", \"token\" and"
                                       " \"scope\"")
    tokens: list[ApiToken] = []
    names: dict[str, str] = {}
    seen: dict[str, str] = {}
    for index, entry in enumerate(entries):
        path = f"apiTokens[{index}]"
        if not isinstance(entry, dict):
            raise fields.fail(path, "must be an object with \"name\", \"token\" and \"scope\"")
        fields.check_keys(entry, TOKEN_KEYS, f"{path}.")
        for key in ("name", "token"):
            if key not in entry:
                raise fields.fail(f"{path}.{key}", "is required")
        name = fields.text(entry, "name", f"{path}.name")
        if not name:
            raise fields.fail(f"{path}.name", "must not be empty")
        if name in names:
            raise fields.fail(f"{path}.name", f"{name!r} is already the name of {names[name]}")
        names[name] = path
        raw = entry["token"]
        if not isinstance(raw, str):
            raise fields.fail(f"{path}.token", "must be a string")
        token = fields.expand(raw, f"{path}.token")
        # ASCII: an HTTP header carries bytes, which a server decodes as latin-1.
        if not MIN_TOKEN <= len(token) <= MAX_TOKEN or not token.isascii() \
                or not token.isprintable() or any(ch.isspace() for ch in token):
            # The value is never quoted: it is the secret.
            raise fields.fail(f"{path}.token", f"must be {MIN_TOKEN} to {MAX_TOKEN} printable"
                                               " ASCII characters without spaces")
        if token in seen:
            raise fields.fail(f"{path}.token", f"is the same as {seen[token]}'s")
        seen[token] = path
        fields.expanded.append(token)  # masked in every later message, as env values are
        scope = entry.get("scope", "read")
        if scope not in SCOPES:
            raise fields.fail(f"{path}.{json_key('scope')}", 'must be "read" or "write"')
        tokens.append(ApiToken(name=name, scope=scope, token=token))
    return tuple(tokens)
