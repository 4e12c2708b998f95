"""A reload handed the config its writer parsed (the web server's editor): taken without a
parse of the file (at 5,000 monitors ~0.15 s, on the process that serves the next page),
unless the file changed again since, or has warnings to say."""

from __future__ import annotations

import json
from typing import Any

import pytest

from monitor import runtime as runtime_module
from monitor.config import parse_config
from monitor.config.edit import ConfigEditor, file_etag
from monitor.web.context import WebContext
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
        runtime.request_reload(config, file_etag(path))

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
        runtime.request_reload(parse_config(path.read_text(), str(path)), file_etag(path))
        if then == "changed":  # by hand, after the writer parsed it
            path.write_text(json.dumps(_edited(pages, "c"), indent=1))
        runtime.step()
        want = "c" if then == "changed" else "b"
        assert runtime.config.monitors[0].name == want
        if then == "warnings":
            assert any("deprecated" in line for line in problems.lines)
    finally:
        runtime.stop()


def _hand(context: Any, result: Any) -> None:
    """What the API and the edit page do once an edit is written."""
    context.reload(result.snapshot.config, result.snapshot.etag)


@pytest.mark.parametrize("between", [False, True])
def test_reloads_handed_out_of_order_end_with_the_file_s_config(tmp_path, pages,  # noqa: F811
                                                                 between: bool) -> None:
    """Edits A then B written in turn, their reloads arriving B then A (two request
    threads): the runtime and the server run B, what the file says, not A."""
    lines, problems = Lines(), Lines()
    runtime = make_runtime(tmp_path, one_site(pages), lines, problems)
    path = tmp_path / "config.json"
    context = WebContext(path, tmp_path / "m.db", runtime.store, runtime.config,
                         runtime=runtime)
    runtime.start()
    try:
        editor = ConfigEditor(path)
        site = runtime.config.monitors[0].id
        first = editor.patch(site, {"checkInterval": 30})
        second = editor.patch(site, {"checkInterval": 45})
        _hand(context, second)
        if between:
            runtime.step()
            assert runtime.config.monitors[0].interval == 45
        _hand(context, first)
        runtime.step()
        assert runtime.config.monitors[0].interval == 45
        assert context.config.monitors[0].interval == 45
        assert runtime.config == context.config == parse_config(path.read_text(), str(path))
    finally:
        runtime.stop()
    assert problems.lines == []
