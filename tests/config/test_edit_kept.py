"""The config editor reads again only the entry it edits: the monitors of the others are
kept as they were made (at 5,000 monitors an edit's validation takes ~10 ms, not ~150), and
the whole document is still checked. Each edit's config must equal the file's full parse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from monitor.config import parse_config
from monitor.config.edit import Clash, ConfigEditor, Invalid

SITE = "https://a.example/"
DOCUMENT: dict[str, Any] = {
    "monitors": [
        {"URL": SITE, "name": "site a", "plugins": ["tls"]},
        {"type": "tcp", "host": "127.0.0.1", "port": 22, "name": "ssh"},
        {"URL": "https://b.example/", "name": "site b"},
        {"type": "disk", "path": "/", "maxPercent": 95},
    ],
    "plugins": ["dns"],
    "alertThreshold": 0.7,
    "statusPages": [{"slug": "acme", "title": "Acme",
                     "groups": [{"name": "Web", "monitors": ["site b"]}]}],
}


@pytest.fixture()
def editor(tmp_path: Path) -> ConfigEditor:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(DOCUMENT, indent=2))
    return ConfigEditor(path)


def _full(editor: ConfigEditor) -> Any:
    return parse_config(editor.path.read_text(), str(editor.path))


@pytest.mark.parametrize("edit", ["replace", "patch", "add", "delete", "pause"])
def test_each_edit_makes_the_config_a_full_parse_makes(editor: ConfigEditor, edit: str,
                                                       ) -> None:
    before = editor.read().config
    assert before is not None
    ssh = "tcp:127.0.0.1:22"
    result = {
        "replace": lambda: editor.replace(ssh, {"type": "tcp", "host": "127.0.0.1",
                                                "port": 2222, "tags": ["x"]}),
        "patch": lambda: editor.patch(SITE, {"plugins": ["content"], "name": "renamed"}),
        "add": lambda: editor.add({"URL": "https://c.example/", "name": "site c"}),
        "delete": lambda: editor.delete(ssh),
        "pause": lambda: editor.pause("disk:/"),
    }[edit]()
    after = result.snapshot.config
    assert after == _full(editor)
    assert [m.id for m in after.monitors] == [m.id for m in _full(editor).monitors]
    # The entries left alone kept their monitors, the very objects: not read again.
    untouched = {"replace": "disk:/", "patch": "disk:/", "add": ssh, "delete": "disk:/",
                 "pause": ssh}[edit]
    old = next(m for m in before.monitors if m.id == untouched)
    assert any(m is old for m in after.monitors)


def test_the_whole_document_is_still_checked(editor: ConfigEditor) -> None:
    text = editor.path.read_bytes()
    # A status page names "site b": deleted, or renamed, the page would name nothing.
    with pytest.raises(Invalid, match=r"statusPages\[0\]"):
        editor.delete("https://b.example/")
    with pytest.raises(Invalid, match=r"statusPages\[0\]"):
        editor.patch("https://b.example/", {"name": "other"})
    with pytest.raises((Clash, Invalid)):
        editor.add({"type": "tcp", "host": "127.0.0.1", "port": 22})
    with pytest.raises(Invalid, match=r"monitors\[4\]\.port"):
        editor.add({"type": "tcp", "host": "127.0.0.1", "port": 70000})
    assert editor.path.read_bytes() == text


def test_a_file_with_warnings_is_read_whole(editor: ConfigEditor) -> None:
    old_way = {"type": "dns", "name": "www.example.com", "server": "127.0.0.1"}
    editor.add(old_way)  # a dns monitor's `name` as what it asks: a warning
    before = editor.read().config
    assert before is not None and before.warnings
    result = editor.patch("disk:/", {"maxPercent": 90})
    assert result.snapshot.config == _full(editor)
    assert result.snapshot.config.warnings == _full(editor).warnings
