"""`agents`, `agentTimeout`, and each monitor's `locations` and `quorum`: checked with
messages naming the file and JSON path, tokens never in a message or a repr."""

from __future__ import annotations

from typing import Any

import pytest

from monitor.config import parse_config
from monitor.config.agents import Agent
from monitor.config.schema import config_schema
from monitor.core.model import LOCAL
from tests.support.config import URL, config_error, doc, error_of, parse

EU = "e" * 16
US = "u" * 16
AGENTS = [{"name": "eu-1", "token": EU, "location": "eu"},
          {"name": "us-1", "token": US, "location": "us"},
          {"name": "eu-2", "token": "f" * 16, "location": "eu"}]


def with_agents(*monitors: dict[str, Any], **top: Any) -> Any:
    return parse(*monitors, agents=AGENTS, **top)


def test_agents_and_their_timeout() -> None:
    config = with_agents(agentTimeout="2m")
    assert config.agents == (Agent("eu-1", "eu", EU), Agent("us-1", "us", US),
                             Agent("eu-2", "eu", "f" * 16))
    assert config.agent_timeout == 120.0
    assert config.locations == (LOCAL, "eu", "us")
    assert EU not in repr(config) and EU not in repr(config.agents)


def test_no_agents_by_default() -> None:
    config = parse()
    assert config.agents == () and config.agent_timeout == 60.0
    assert config.locations == (LOCAL,)
    assert config.monitors[0].locations == (LOCAL,) and config.monitors[0].quorum is None


def test_a_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_EU", "z" * 20)
    config = parse(agents=[{"name": "eu-1", "token": "${AGENT_EU}", "location": "eu"}])
    assert config.agents[0].token == "z" * 20


def test_locations_all_is_local_then_every_agent_location_sorted() -> None:
    config = with_agents({"URL": URL, "locations": "all"})
    assert config.monitors[0].locations == (LOCAL, "eu", "us")


def test_locations_as_listed_with_a_quorum() -> None:
    config = with_agents({"URL": URL, "locations": ["us", "eu"], "quorum": 2},
                         {"URL": URL + "b", "locations": ["eu"]})
    assert [(m.locations, m.quorum) for m in config.monitors] == [
        (("us", "eu"), 2), (("eu",), None)]


def test_a_sites_plugins_share_its_locations() -> None:
    config = with_agents({"URL": URL, "locations": ["local", "eu"], "quorum": 1,
                          "plugins": ["tls"]})
    assert [(m.id, m.locations, m.quorum) for m in config.monitors] == [
        (URL, (LOCAL, "eu"), 1), (URL + "tls", (LOCAL, "eu"), 1)]


@pytest.mark.parametrize("agents, message", [
    ({"name": "x"}, 'agents: must be a list of objects with "name", "token" and "location"'),
    (["x"], 'agents[0]: must be an object with "name", "token" and "location"'),
    ([{"token": EU, "location": "eu"}], "agents[0].name: is required"),
    ([{"name": "eu-1", "location": "eu"}], "agents[0].token: is required"),
    ([{"name": "eu-1", "token": EU}], "agents[0].location: is required"),
    ([{"name": "eu 1", "token": EU, "location": "eu"}],
     "agents[0].name: must be 1 to 64 letters, digits, `.`, `_` or `-`"),
    ([{"name": "eu-1", "token": EU, "location": ""}],
     "agents[0].location: must be 1 to 64 letters, digits, `.`, `_` or `-`"),
    ([{"name": "eu-1", "token": EU, "location": 3}],
     "agents[0].location: must be 1 to 64 letters, digits, `.`, `_` or `-`"),
    ([{"name": "eu-1", "token": EU, "location": "local"}],
     "agents[0].location: 'local' is this monitor's own location: give the agent's another"
     " name"),
    ([{"name": "eu-1", "token": 12, "location": "eu"}], "agents[0].token: must be a string"),
    ([{"name": "eu-1", "token": "short", "location": "eu"}],
     "agents[0].token: must be 16 to 512 printable ASCII characters without spaces"),
    ([{"name": "eu-1", "token": EU, "location": "eu", "scope": "x"}],
     "agents[0].scope: unknown key"),
    ([{"name": "eu-1", "token": EU, "location": "eu"},
      {"name": "eu-1", "token": US, "location": "eu"}],
     "agents[1].name: 'eu-1' is already the name of agents[0]"),
    ([{"name": "eu-1", "token": EU, "location": "eu"},
      {"name": "eu-2", "token": EU, "location": "eu"}],
     "agents[1].token: is the same as agents[0]'s"),
    ([{"name": "eu-1", "token": "${NO_SUCH_VARIABLE_HERE}", "location": "eu"}],
     "agents[0].token: environment variable NO_SUCH_VARIABLE_HERE is not set"),
])
def test_bad_agents_are_config_errors_that_never_quote_a_token(agents: object,
                                                               message: str) -> None:
    text = config_error(parse_config, doc(agents=agents))
    assert text == f"config.json: {message}"
    assert EU not in text and US not in text


def test_an_agent_token_cannot_be_an_api_token() -> None:
    text = error_of(apiTokens=[{"name": "ci", "token": EU}], agents=AGENTS)
    assert text == "agents[0].token: is the same as apiTokens[0]'s"


@pytest.mark.parametrize("value, message", [
    (0, "must be a duration greater than 0"),
    ("0.5s", "must be at least 1s"),
    ("2d", "must be at most 1d"),
])
def test_bad_agent_timeouts(value: object, message: str) -> None:
    assert error_of(agentTimeout=value).startswith(f"agentTimeout: {message}")


@pytest.mark.parametrize("monitor, message", [
    ({"locations": "everywhere"},
     ': must be "all" or a non-empty list of locations (known: "local", "eu", "us")'),
    ({"locations": []},
     ': must be "all" or a non-empty list of locations (known: "local", "eu", "us")'),
    ({"locations": ["eu", 3]},
     '[1]: must be the name of a location (known: "local", "eu", "us")'),
    ({"locations": ["eu", "asia"]},
     '[1]: unknown location "asia": no agent declares it (known: "local", "eu", "us")'),
    ({"locations": ["eu", "eu"]}, '[1]: "eu" appears more than once'),
])
def test_bad_locations_name_the_known_ones(monitor: dict[str, Any], message: str) -> None:
    assert error_of({"URL": URL, **monitor}, agents=AGENTS) == \
        f"websites[0].locations{message}"


def test_a_location_without_agents_says_none_are_declared() -> None:
    assert error_of({"URL": URL, "locations": ["eu"]}) == (
        'websites[0].locations[0]: unknown location "eu": no agents are declared'
        ' (top-level "agents") (known: "local")')


@pytest.mark.parametrize("monitor, message", [
    ({"locations": ["eu", "us"], "quorum": 3},
     "must be a whole number from 1 to 2 (the monitor has 2 locations)"),
    ({"locations": "all", "quorum": 0},
     "must be a whole number from 1 to 3 (the monitor has 3 locations)"),
    ({"quorum": 2}, "must be 1 (the monitor has 1 location)"),
    ({"locations": "all", "quorum": True},
     "must be a whole number from 1 to 3 (the monitor has 3 locations)"),
    ({"locations": "all", "quorum": 1.5},
     "must be a whole number from 1 to 3 (the monitor has 3 locations)"),
])
def test_bad_quorums(monitor: dict[str, Any], message: str) -> None:
    assert error_of({"URL": URL, **monitor}, agents=AGENTS) == f"websites[0].quorum: {message}"


def test_a_pushed_monitor_is_fed_here_only() -> None:
    assert error_of({"type": "push", "id": "job", "checkInterval": 60,
                     "locations": ["eu"]}, agents=AGENTS) == (
        "websites[0].locations: a push monitor is fed here: its only location is 'local'")


def test_the_canary_has_no_locations() -> None:
    assert error_of(canary={"URL": URL, "locations": ["eu"]}, agents=AGENTS) == \
        "canary.locations: the canary is checked by this process only"


def test_the_schema_knows_the_keys() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = config_schema(strict=True)
    good = {"websites": [{"URL": URL, "locations": "all", "quorum": 2}], "agents": AGENTS,
            "agentTimeout": 30}
    jsonschema.validate(good, schema)
    for bad in ({**good, "agents": [{"name": "x", "token": EU, "location": "local"}]},
                {**good, "websites": [{"URL": URL, "locations": ["eu", "eu"]}]},
                {**good, "agentTimeout": 0.5}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
