"""`apiTokens`: the web server's tokens, each checked, its value never in a message."""

from __future__ import annotations

import pytest

from monitor.config import parse_config
from monitor.config.web import ApiToken
from tests.support.config import config_error, doc

GOOD = "t" * 16


def test_tokens_with_their_scope() -> None:
    config = parse_config(doc(apiTokens=[{"name": "ci", "token": GOOD, "scope": "write"},
                                         {"name": "grafana", "token": "g" * 40}]))
    assert config.api_tokens == (ApiToken("ci", "write", GOOD), ApiToken("grafana", "read",
                                                                          "g" * 40))
    assert GOOD not in repr(config) and GOOD not in repr(config.api_tokens)
    assert config.api_tokens[0].allows("write") and not config.api_tokens[1].allows("write")
    assert config.api_tokens[1].allows("read")


def test_a_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI_TOKEN", "e" * 24)
    config = parse_config(doc(apiTokens=[{"name": "ci", "token": "${CI_TOKEN}"}]))
    assert config.api_tokens[0].token == "e" * 24


@pytest.mark.parametrize("tokens, message", [
    ({"name": "x"}, 'apiTokens: must be a list of objects with "name", "token" and "scope"'),
    (["x"], 'apiTokens[0]: must be an object with "name", "token" and "scope"'),
    ([{"token": GOOD}], "apiTokens[0].name: is required"),
    ([{"name": "ci"}], "apiTokens[0].token: is required"),
    ([{"name": "ci", "token": 12}], "apiTokens[0].token: must be a string"),
    ([{"name": "ci", "token": "short"}],
     "apiTokens[0].token: must be 16 to 512 printable ASCII characters without spaces"),
    ([{"name": "ci", "token": "é" * 20}],
     "apiTokens[0].token: must be 16 to 512 printable ASCII characters without spaces"),
    ([{"name": "ci", "token": "a b" * 8}],
     "apiTokens[0].token: must be 16 to 512 printable ASCII characters without spaces"),
    ([{"name": "ci", "token": GOOD, "scope": "admin"}],
     'apiTokens[0].scope: must be "read" or "write"'),
    ([{"name": "ci", "token": GOOD, "role": "x"}], "apiTokens[0].role: unknown key"),
    ([{"name": "ci", "token": GOOD}, {"name": "ci", "token": "u" * 16}],
     "apiTokens[1].name: 'ci' is already the name of apiTokens[0]"),
    ([{"name": "ci", "token": GOOD}, {"name": "cd", "token": GOOD}],
     "apiTokens[1].token: is the same as apiTokens[0]'s"),
    ([{"name": "ci", "token": "${NO_SUCH_VARIABLE_HERE}"}],
     "apiTokens[0].token: environment variable NO_SUCH_VARIABLE_HERE is not set"),
])
def test_bad_tokens_are_config_errors_that_never_quote_a_token(tokens: object,
                                                               message: str) -> None:
    text = config_error(parse_config, doc(apiTokens=tokens))
    assert text == f"config.json: {message}"
    assert GOOD not in text and "é" * 20 not in text
