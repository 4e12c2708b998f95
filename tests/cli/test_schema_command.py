"""`schema`: the config's JSON Schema on stdout, as the server serves it."""

import json

from monitor.cli import main
from monitor.config.schema import config_schema


def test_schema_prints_the_config_schema(runner) -> None:
    result = runner.invoke(main, ["schema"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed == config_schema()
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "paused" in printed["$defs"]["monitor"]["properties"]


def test_schema_is_listed_in_the_help(runner) -> None:
    result = runner.invoke(main, ["--help"])
    assert "schema   " in result.output or "schema " in result.output
    assert "Print the JSON Schema of the config file." in result.output
