"""A reload handed the config its writer parsed (the web server's editor): taken without a
parse of the file (at 5,000 monitors ~0.15 s, on the process that serves the next page),
unless the file changed again since, or has warnings to say."""

from __future__ import annotations

import json
from typing import Any

import pytest

from monitor import runtime as runtime_module
from monitor.config import parse_config
from tests.engine.test_runtime import Lines, make_runtime, one_site, pages  # noqa: F401


def _edited(server: Any, name: str) -> dict:
    doc = one_site(server)
    doc["websites"][0]["name"] = name
    return doc


def test_a_handed_config_is_taken_without_a_parse(tmp_path, pages, monkeypatch) -> None:  # noqa: F811
    lines, problems = Lines(), Lines()
    runtime = make_runtime(tmp_path, one_site(pages), lines, problems)
    runtime.start()
    try:
        path = tmp_path / "config.json"
        path.write_text(json.dumps(_edited(pages, "b")))
        config = parse_config(path.read_text(), str(path))
        runtime.request_reload(config)

        def no_parse(*args: object, **kwargs: object) -> None:
            raise AssertionError("the file was parsed again")
        monkeypatch.setattr(runtime_module, "load_config", no_parse)
        runtime.step()
        assert runtime.config is config
        assert f"Reloaded {path}: 1 monitor(s)." in lines.lines
    finally:
        runtime.stop()
    assert problems.lines == []


@pytest.mark.parametrize("then", ["changed", "warnings"])
def test_a_handed_config_is_not_taken_when_the_file_says_more(tmp_path, pages,  # noqa: F811
                                                              then: str) -> None:
    lines, problems = Lines(), Lines()
    runtime = make_runtime(tmp_path, one_site(pages), lines, problems)
    runtime.start()
    try:
        path = tmp_path / "config.json"
        doc = _edited(pages, "b")
        if then == "warnings":  # a dns monitor's `name` as what it asks: said once
            doc["websites"].append({"type": "dns", "name": "www.example.com",
                                    "server": "127.0.0.1", "checkInterval": 60})
        path.write_text(json.dumps(doc))
        runtime.request_reload(parse_config(path.read_text(), str(path)))
        if then == "changed":  # by hand, after the writer parsed it
            path.write_text(json.dumps(_edited(pages, "c"), indent=1))
        runtime.step()
        want = "c" if then == "changed" else "b"
        assert runtime.config.monitors[0].name == want
        if then == "warnings":
            assert any("deprecated" in line for line in problems.lines)
    finally:
        runtime.stop()
