"""The config editor: each operation on a real file, the ETag, the loader's own messages,
the atomic write with its backup, `${VAR}` and the file's layout kept, masked secrets kept,
and edits from several threads at once."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
from pathlib import Path

import pytest

from monitor.config import Config, load_config, parse_config
from monitor.config.edit import (
    Clash,
    ConfigEditor,
    Derived,
    Invalid,
    NotFound,
    Snapshot,
    Stale,
    Unwritable,
    merge_patch,
    pointer,
)
from monitor.core.model import Monitor
from tests.support.config import config_error

TEXT = """{
  "monitors": [
    {"URL": "https://a.example/", "name": "a", "headers": {"X-Api-Key": "${API_KEY}"}},
    {"URL": "https://user:hunter22@b.example/", "name": "b", "checkInterval": "30s"},
    {
      "type": "tcp",
      "host": "127.0.0.1",
      "port": 22
    }
  ],
  "defaultCheckInterval": 5
}
"""
A, B, SSH = "https://a.example/", "https://user:***@b.example/", "tcp:127.0.0.1:22"


@pytest.fixture()
def config_file(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("API_KEY", "secret-from-the-environment")
    path = tmp_path / "config.json"
    path.write_text(TEXT)
    return path


def ids(path: Path) -> list[str]:
    return [m.id for m in load_config(path, warn=lambda _: None).monitors]


def leftovers(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name.endswith(".tmp"))


def test_read_gives_the_document_as_written_and_the_etag_of_its_bytes(config_file) -> None:
    snap = ConfigEditor(config_file).read()
    assert snap.etag == hashlib.sha256(config_file.read_bytes()).hexdigest()
    assert snap.entry(A)["headers"] == {"X-Api-Key": "${API_KEY}"}
    assert snap.entry(SSH) == {"type": "tcp", "host": "127.0.0.1", "port": 22}
    with pytest.raises(NotFound, match="no monitor 'nope' in config.json"):
        snap.entry("nope")


def test_add_appends_keeps_every_other_byte_and_backs_up(config_file) -> None:
    before = config_file.read_bytes()
    editor = ConfigEditor(config_file)
    result = editor.add({"type": "tcp", "host": "127.0.0.1", "port": 25, "name": "smtp"},
                        if_match=editor.read().etag)
    assert result.monitor_id == "tcp:127.0.0.1:25"
    text = config_file.read_text()
    # The new entry laid out as the last one is (indented JSON), after it.
    assert text == TEXT.replace('      "port": 22\n    }\n', '      "port": 22\n    },\n    {\n'
                                '      "type": "tcp",\n      "host": "127.0.0.1",\n'
                                '      "port": 25,\n      "name": "smtp"\n    }\n')
    assert ids(config_file) == [A, "https://user:***@b.example/", SSH, "tcp:127.0.0.1:25"]
    assert (config_file.parent / "config.json.bak").read_bytes() == before
    assert result.snapshot.etag == hashlib.sha256(config_file.read_bytes()).hexdigest()
    for path in (config_file, config_file.parent / "config.json.bak"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert leftovers(config_file) == []


def test_a_monitor_added_goes_to_the_list_the_file_names(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text('{"websites": [{"URL": "https://a.example/"}]}')
    ConfigEditor(path).add({"URL": "https://c.example/"})
    assert json.loads(path.read_text()) == {
        "websites": [{"URL": "https://a.example/"}, {"URL": "https://c.example/"}]}


def test_replace_rewrites_one_entry_and_keeps_var_references(config_file) -> None:
    editor = ConfigEditor(config_file)
    result = editor.replace(A, {"URL": "https://a.example/v2", "headers": {
        "X-Api-Key": "${API_KEY}"}})
    assert result.monitor_id == "https://a.example/v2"  # its id follows its URL
    lines = config_file.read_text().splitlines()
    assert lines[2] == ('    {"URL": "https://a.example/v2", "headers": {"X-Api-Key":'
                        ' "${API_KEY}"}},')
    assert lines[3:] == TEXT.splitlines()[3:]


def test_patch_is_a_json_merge_patch(config_file) -> None:
    editor = ConfigEditor(config_file)
    editor.patch(B, {"checkInterval": None, "name": "bee", "tags": ["web"]})
    entry = editor.read().entry(B)
    assert entry == {"URL": "https://user:hunter22@b.example/", "name": "bee",
                     "tags": ["web"]}
    assert merge_patch({"a": {"b": 1, "c": 2}}, {"a": {"b": None, "d": 3}}) == {
        "a": {"c": 2, "d": 3}}
    assert merge_patch({"a": 1}, [1]) == [1]


def test_delete_the_middle_the_last_and_not_the_only_one(config_file, tmp_path) -> None:
    editor = ConfigEditor(config_file)
    editor.delete(B)
    assert ids(config_file) == [A, SSH]
    editor.delete(SSH)
    assert ids(config_file) == [A]
    assert json.loads(config_file.read_text())["defaultCheckInterval"] == 5
    before = config_file.read_bytes()
    with pytest.raises(Invalid) as caught:
        editor.delete(A)
    assert str(caught.value) == (f"{config_file}: monitors: must contain at least one"
                                 " monitor")
    assert caught.value.pointer == "/monitors"
    assert config_file.read_bytes() == before
    assert leftovers(config_file) == []


def test_pause_and_resume_write_the_key_once(config_file) -> None:
    editor = ConfigEditor(config_file)
    assert editor.pause(SSH).changed
    assert editor.read().entry(SSH)["paused"] is True
    assert load_config(config_file).monitors[2].paused
    etag = editor.read().etag
    again = editor.pause(SSH)
    assert not again.changed and again.snapshot.etag == etag  # nothing written
    editor.resume(SSH)
    assert "paused" not in editor.read().entry(SSH)
    assert not load_config(config_file).monitors[2].paused


def test_an_edit_since_the_client_read_is_refused(config_file) -> None:
    editor = ConfigEditor(config_file)
    etag = editor.read().etag
    config_file.write_text(TEXT.replace('"name": "a"', '"name": "edited by hand"'))
    before = config_file.read_bytes()
    with pytest.raises(Stale, match="has changed since it was read"):
        editor.patch(A, {"name": "x"}, if_match=etag)
    assert config_file.read_bytes() == before
    assert not (config_file.parent / "config.json.bak").exists()


def test_invalid_says_what_the_loader_says_where(config_file) -> None:
    editor = ConfigEditor(config_file)
    before = config_file.read_bytes()
    with pytest.raises(Invalid) as caught:
        editor.patch(B, {"checkInterval": 0})
    expected = config_error(parse_config, TEXT.replace('"checkInterval": "30s"',
                                                       '"checkInterval": 0'),
                            str(config_file))
    assert str(caught.value) == expected
    assert caught.value.path == "monitors[1].checkInterval"
    assert caught.value.pointer == "/monitors/1/checkInterval"
    assert caught.value.entry_pointer == "/checkInterval"
    with pytest.raises(Invalid) as caught:
        editor.add({"type": "tcp", "host": "h", "port": 1, "colour": "red"})
    assert str(caught.value).endswith("monitors[3].colour: unknown key")
    assert caught.value.entry_pointer == "/colour"
    with pytest.raises(Invalid) as caught:
        editor.add("https://c.example/")
    assert caught.value.entry_pointer == ""
    assert config_file.read_bytes() == before
    assert leftovers(config_file) == []
    assert not (config_file.parent / "config.json.bak").exists()


def test_an_id_another_monitor_has_is_a_clash(config_file) -> None:
    editor = ConfigEditor(config_file)
    with pytest.raises(Clash, match=r"the monitor 'https://a.example/' exists \(monitors\[0\]\)"):
        editor.add({"URL": "https://a.example/", "name": "again"})
    with pytest.raises(Clash):
        editor.patch(SSH, {"id": A})
    # Its own id again is no clash.
    editor.replace(SSH, {"type": "tcp", "host": "127.0.0.1", "port": 22, "name": "ssh"})


def test_a_monitor_made_by_plugins_has_no_entry(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"monitors": [{"URL": "https://a.example/", "plugins": ["tls"]}]}')
    editor = ConfigEditor(path)
    assert editor.read().monitor("https://a.example/tls").parent_id == "https://a.example/"
    with pytest.raises(Derived, match="made by the plugins of 'https://a.example/'"):
        editor.delete("https://a.example/tls")


def test_secrets_are_masked_and_kept_when_sent_back(config_file) -> None:
    editor = ConfigEditor(config_file)
    shown = editor.read().shown(B)
    assert shown["URL"] == "https://user:***@b.example/"
    assert "hunter22" not in json.dumps(shown)
    # A reference is no secret: shown as written.
    assert editor.read().shown(A)["headers"] == {"X-Api-Key": "${API_KEY}"}
    editor.replace(B, {**shown, "name": "renamed"})
    assert editor.read().entry(B)["URL"] == "https://user:hunter22@b.example/"
    editor.patch(B, {"URL": shown["URL"], "tags": ["x"]})
    assert editor.read().entry(B)["URL"] == "https://user:hunter22@b.example/"


def test_a_literal_secret_header_is_masked(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text('{"monitors": [{"URL": "https://a.example/?token=abcdef",'
                    ' "headers": {"Authorization": "Bearer s3cr3t-value"}}]}')
    editor = ConfigEditor(path)
    monitor_id = editor.read().config.monitors[0].id
    shown = editor.read().shown(monitor_id)
    assert shown["headers"] == {"Authorization": "***"}
    assert "abcdef" not in shown["URL"]
    editor.replace(monitor_id, {**shown, "name": "api"})
    stored = editor.read().entry(monitor_id)
    assert stored["headers"] == {"Authorization": "Bearer s3cr3t-value"}
    assert stored["URL"] == "https://a.example/?token=abcdef"


def test_a_byte_order_mark_and_crlf_lines_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(b'\xef\xbb\xbf{\r\n  "monitors": [\r\n    {\r\n      "URL":'
                     b' "https://a.example/"\r\n    }\r\n  ]\r\n}\r\n')
    ConfigEditor(path).add({"URL": "https://b.example/"})
    assert path.read_bytes() == (
        b'\xef\xbb\xbf{\r\n  "monitors": [\r\n    {\r\n      "URL": "https://a.example/"\r\n'
        b'    },\r\n    {\r\n      "URL": "https://b.example/"\r\n    }\r\n  ]\r\n}\r\n')


def test_a_linked_config_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    real.write_text('{"monitors": [{"URL": "https://a.example/"}]}')
    link = tmp_path / "config.json"
    link.symlink_to(real)
    ConfigEditor(link).add({"URL": "https://b.example/"})
    assert link.is_symlink()
    assert len(json.loads(real.read_text())["monitors"]) == 2
    assert (tmp_path / "real.json.bak").exists()


def test_a_write_that_fails_leaves_the_file_whole(config_file) -> None:
    (config_file.parent / "config.json.bak").mkdir()  # the backup cannot be renamed there
    before = config_file.read_bytes()
    with pytest.raises(Unwritable, match="cannot write"):
        ConfigEditor(config_file).add({"URL": "https://c.example/"})
    assert config_file.read_bytes() == before
    assert leftovers(config_file) == []


def test_concurrent_edits_are_serialized(config_file) -> None:
    editors = [ConfigEditor(config_file) for _ in range(4)]
    start = threading.Barrier(len(editors))
    errors: list[BaseException] = []

    def add(index: int) -> None:
        start.wait()
        try:
            for n in range(5):
                editors[index].add({"type": "tcp", "host": "127.0.0.1",
                                    "port": 1000 + index * 10 + n})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(len(editors))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(ids(config_file)) == 3 + 20  # none lost to another's write


def test_two_edits_from_one_read_the_second_is_stale(config_file) -> None:
    etag = ConfigEditor(config_file).read().etag
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def patch(name: str) -> None:
        start.wait()
        try:
            ConfigEditor(config_file).patch(A, {"name": name}, if_match=etag)
            outcomes.append("written")
        except Stale:
            outcomes.append("stale")

    threads = [threading.Thread(target=patch, args=(n,)) for n in ("x", "y")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["stale", "written"]


def test_an_invalid_file_is_said_before_any_edit(config_file) -> None:
    config_file.write_text('{"monitors": [{"URL": "ftp://x/"}]}')
    with pytest.raises(Invalid, match=r"must be an http:// or https:// URL .*fix the file"):
        ConfigEditor(config_file).add({"URL": "https://c.example/"})


def test_pointers() -> None:
    assert pointer('monitors[2].headers."X/Key~1"') == "/monitors/2/headers/X~1Key~01"
    assert pointer("(root)") == ""
    assert pointer(".checkInterval") == "/checkInterval"


def test_the_editor_makes_no_file_it_does_not_write(config_file) -> None:
    ConfigEditor(config_file).read()
    assert sorted(os.listdir(config_file.parent)) == ["config.json"]


class _EditedByHandMeanwhile(ConfigEditor):
    """An editor during whose edit someone edits the file by hand: after the ETag check,
    while the edited document is validated, before it is written."""

    hand_edit = TEXT.replace('"name": "a"', '"name": "edited by hand"').encode()

    def _validate(self, snap: Snapshot, text: str, index: int | None,
                  kept: dict[int, Monitor]) -> Config:
        self.path.write_bytes(self.hand_edit)
        return super()._validate(snap, text, index, kept)


@pytest.mark.parametrize("if_match", [True, False])  # an ETag, or `If-Match: *`
def test_a_hand_edit_during_an_edit_is_not_written_over(config_file, if_match) -> None:
    editor = _EditedByHandMeanwhile(config_file)
    etag = editor.read().etag if if_match else None
    with pytest.raises(Stale, match="has changed since it was read"):
        editor.patch(B, {"name": "x"}, if_match=etag)
    assert config_file.read_bytes() == editor.hand_edit
    assert leftovers(config_file) == []
    # The next edit, from the file as it is now, keeps the hand edit.
    ConfigEditor(config_file).patch(B, {"name": "x"})
    assert [m.name for m in load_config(config_file).monitors[:2]] == ["edited by hand", "x"]
