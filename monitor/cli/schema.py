"""`schema`: print the JSON Schema of config.json, for an editor to complete and check it
(the web server serves the same document at /api/v1/schema.json)."""

from __future__ import annotations

import json

import click

from monitor.cli.errors import guarded


@click.command("schema")
@click.option("--debug", is_flag=True, help="Show tracebacks of unexpected errors.")
def schema_command(debug: bool) -> None:
    """Print the JSON Schema of the config file.

    Draft 2020-12, made from the keys the program reads, with their bounds and meanings:
    point an editor at it (VS Code: "$schema" in config.json, or json.schemas in its
    settings) to complete keys and see mistakes as you type. The program's own check
    (`validate`) also says what a schema cannot: variables set, files present, ids unique.
    """
    def run() -> None:
        from monitor.config.schema import config_schema  # imported here: --help stays cheap

        click.echo(json.dumps(config_schema(), indent=2, ensure_ascii=False))

    guarded(debug, run)
