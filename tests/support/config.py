"""Config documents as the tests write them, and the errors the loader gives for them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from monitor.config import Config, parse_config
from monitor.core.errors import ConfigError
from monitor.core.timefmt import DURATION_FORMS

# What a duration key that is not one is told.
DURATION = f"must be a duration greater than 0: {DURATION_FORMS}"

URL = "https://a.example/"


def config_error(call: Callable[..., object], *args: Any, **kwargs: Any) -> str:
    """The message of the ConfigError that `call(*args, **kwargs)` raises (the test fails
    when it raises none); one line, as every config error is."""
    with pytest.raises(ConfigError) as caught:
        call(*args, **kwargs)
    message = str(caught.value)
    assert message.splitlines() == [message]
    return message


def doc(*monitors: dict[str, Any], **top: Any) -> str:
    """A config.json as text: the monitors (one http monitor of URL if none) and top keys."""
    return json.dumps({"websites": list(monitors) or [{"URL": URL}], **top})


def parse(*monitors: dict[str, Any], **top: Any) -> Config:
    return parse_config(doc(*monitors, **top))


def error_of(*monitors: dict[str, Any], **top: Any) -> str:
    """config_error of parse(...), without the file name it starts with."""
    return config_error(parse, *monitors, **top).removeprefix("config.json: ")
