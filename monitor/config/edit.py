"""The config file edited as a JSON document, in place: what the API's writes do.

`ConfigEditor(path)` reads the file as written (`${VAR}` references stay references; key
order, layout and the other entries are kept: only the entry changed is rewritten, see
jsontext) with its ETag, a strong hash of the file's bytes. Each operation (add, replace,
patch by JSON merge patch (RFC 7396), delete, pause, resume) finds its entry by monitor id
as the loader computes ids, validates the WHOLE resulting document with the loader
(`parse_config`: the messages config.json gets), and writes it atomically: a temporary
file in the same directory (owner-only), fsync, the previous version kept as
`<config>.bak`, then a rename over the file. Nothing is written when anything fails.

An `if_match` ETag that is not the file's current one raises Stale (the file changed
since the client read it); edits from several threads are serialized, the ETag compared
inside the lock. Errors are EditError's kinds: NotFound, Stale, Clash (the id is another
monitor's), Derived (a monitor a site's `plugins` makes has no entry to edit), Invalid
(the loader's message, its JSON path and pointer), Unwritable."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

from monitor.config import LIST_KEYS, Config, jsontext, parse_config
from monitor.config.masked import masked, unmasked
from monitor.core.errors import ConfigError, MonitorError
from monitor.core.model import Monitor

__all__ = ["Clash", "ConfigEditor", "Derived", "EditError", "Invalid", "NotFound", "Snapshot",
           "Stale", "Unwritable", "file_etag", "merge_patch", "pointer"]

BOM = "\ufeff"
BACKUP_SUFFIX = ".bak"
# A path as the loader's messages write it, then ": " and the message.
_PATH = re.compile(r'((?:[A-Za-z_][A-Za-z0-9_]*|"(?:[^"\\]|\\.)*")'
                   r'(?:\.(?:[A-Za-z_][A-Za-z0-9_]*|"(?:[^"\\]|\\.)*")|\[\d+\])*|\(root\)): ')
_STEP = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_]*)|\.?("(?:[^"\\]|\\.)*")|\[(\d+)\]')


class EditError(MonitorError):
    """An edit refused, nothing written: `kind` says why (the API's status follows it)."""

    kind: ClassVar[str] = "invalid"


class NotFound(EditError):
    kind = "not_found"


class Stale(EditError):
    """The file's ETag is not the one the client read: it was edited since."""

    kind = "conflict"


class Clash(EditError):
    """The entry would take the id of another monitor."""

    kind = "clash"


class Derived(EditError):
    """The monitor is made by a site's `plugins`: edit the site."""

    kind = "derived"


class Unwritable(EditError):
    kind = "unwritable"


class Invalid(EditError):
    """The resulting document is not a valid config: the loader's message, the JSON path
    it names (`monitors[2].checkInterval`), that path as a JSON pointer into the document,
    and as one into the entry edited when it is in it (`/checkInterval`)."""

    kind = "invalid"

    def __init__(self, message: str, path: str | None = None,
                 entry_pointer: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.pointer = None if path is None else pointer(path)
        self.entry_pointer = entry_pointer


@dataclass(frozen=True)
class Snapshot:
    """The file as read: its bytes' ETag, its text and document, and the config it makes
    (None when the file is not a valid config now: `error` says why)."""

    path: Path
    etag: str
    text: str  # without a byte-order mark (`bom`)
    bom: bool
    document: Any
    config: Config | None
    error: str | None = None
    list_key: str = field(default="monitors")

    @property
    def entries(self) -> list[Any]:
        value = self.document.get(self.list_key) if isinstance(self.document, dict) else None
        return value if isinstance(value, list) else []

    @cached_property
    def _ids(self) -> dict[str, int]:
        # The list's monitors come first in config.monitors, in the list's order.
        monitors = self.config.monitors if self.config is not None else ()
        return {m.id: index for index, m in enumerate(monitors[:len(self.entries)])}

    def monitor(self, monitor_id: str) -> Monitor:
        """The monitor of this id (a site's plugged ones too); NotFound."""
        if self.config is None:
            raise Invalid(self.error or "the config file is not valid")
        for monitor in self.config.monitors:
            if monitor.id == monitor_id:
                return monitor
        raise NotFound(f"no monitor {monitor_id!r} in {self.path.name}")

    def index(self, monitor_id: str) -> int:
        """The position in the list of the entry of this id; NotFound, Derived."""
        monitor = self.monitor(monitor_id)
        if monitor_id not in self._ids:
            raise Derived(f"the monitor {monitor_id!r} is made by the plugins of"
                          f" {monitor.parent_id!r}: edit that monitor instead")
        return self._ids[monitor_id]

    def entry(self, monitor_id: str) -> Any:
        """The entry of this id, as written."""
        return self.entries[self.index(monitor_id)]

    def shown(self, monitor_id: str) -> Any:
        """The entry of this id as clients see it: its secrets masked (masked.py)."""
        return masked(self.entry(monitor_id), self.monitor(monitor_id).secrets)


@dataclass(frozen=True)
class Result:
    """An edit done: the file as now written, and the id of the monitor edited (its new id
    when the edit changed it)."""

    snapshot: Snapshot
    monitor_id: str
    changed: bool = True


_locks: dict[Path, threading.Lock] = {}
_locks_lock = threading.Lock()


def _lock_of(path: Path) -> threading.Lock:
    """One lock per file, whichever editor of it edits."""
    with _locks_lock:
        return _locks.setdefault(path, threading.Lock())


class ConfigEditor:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = _lock_of(self.path.resolve())
        self._cached: Snapshot | None = None

    # -- reading -------------------------------------------------------------------
    def read(self) -> Snapshot:
        """The file now (parsed again only when its bytes changed). Raises ConfigError
        when it cannot be read."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            raise ConfigError(f"{self.path}: file not found") from None
        except OSError as exc:
            raise ConfigError(f"{self.path}: cannot read: {exc.strerror}") from None
        etag = _etag(raw)
        cached = self._cached
        if cached is not None and cached.etag == etag:
            return cached
        snapshot = self._snapshot(raw, etag)
        self._cached = snapshot
        return snapshot

    def _snapshot(self, raw: bytes, etag: str, config: Config | None = None) -> Snapshot:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Snapshot(self.path, etag, "", False, None, None,
                            f"{self.path}: not UTF-8 text (byte {exc.start})")
        bom = text.startswith(BOM)
        text = text.removeprefix(BOM)
        error = None
        if config is None:
            try:
                config = parse_config(text, str(self.path))
            except ConfigError as exc:
                error = str(exc)
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            document = None
        given = [key for key in LIST_KEYS if isinstance(document, dict) and key in document]
        return Snapshot(self.path, etag, text, bom, document, config, error,
                        given[0] if given else LIST_KEYS[0])

    # -- the operations --------------------------------------------------------------
    def add(self, entry: Any, if_match: str | None = None) -> Result:
        """A new monitor at the end of the list (`monitors`, or `websites` when the file
        names its list so)."""
        def change(snap: Snapshot) -> tuple[str, int | None]:
            array, spans = _list(snap)
            return jsontext.append(snap.text, array, spans, entry), len(spans)
        return self._edit(if_match, None, change)

    def replace(self, monitor_id: str, entry: Any, if_match: str | None = None) -> Result:
        """The entry of `monitor_id` replaced by `entry`; its values still masked as shown
        keep the stored secrets."""
        def change(snap: Snapshot) -> tuple[str, int | None]:
            index = snap.index(monitor_id)
            new = unmasked(entry, snap.shown(monitor_id), snap.entry(monitor_id))
            return jsontext.replace(snap.text, _list(snap)[1][index], new), index
        return self._edit(if_match, monitor_id, change)

    def patch(self, monitor_id: str, patch: Any, if_match: str | None = None) -> Result:
        """The entry of `monitor_id` changed by a JSON merge patch (RFC 7396: `null`
        removes a key)."""
        def change(snap: Snapshot) -> tuple[str, int | None]:
            index = snap.index(monitor_id)
            stored = snap.entry(monitor_id)
            new = unmasked(merge_patch(stored, patch), snap.shown(monitor_id), stored)
            return jsontext.replace(snap.text, _list(snap)[1][index], new), index
        return self._edit(if_match, monitor_id, change)

    def delete(self, monitor_id: str, if_match: str | None = None) -> Result:
        def change(snap: Snapshot) -> tuple[str, int | None]:
            index = snap.index(monitor_id)
            return jsontext.delete(snap.text, _list(snap)[1], index), None
        return self._edit(if_match, monitor_id, change)

    def pause(self, monitor_id: str, if_match: str | None = None) -> Result:
        """`"paused": true` in the entry: kept and listed, not checked."""
        return self._set_paused(monitor_id, True, if_match)

    def resume(self, monitor_id: str, if_match: str | None = None) -> Result:
        """The entry's `paused` removed: checked again."""
        return self._set_paused(monitor_id, False, if_match)

    def _set_paused(self, monitor_id: str, paused: bool, if_match: str | None) -> Result:
        def change(snap: Snapshot) -> tuple[str, int | None]:
            index = snap.index(monitor_id)
            entry = snap.entry(monitor_id)
            if not isinstance(entry, dict) or snap.monitor(monitor_id).paused == paused:
                return snap.text, index
            new = merge_patch(entry, {"paused": True if paused else None})
            return jsontext.replace(snap.text, _list(snap)[1][index], new), index
        return self._edit(if_match, monitor_id, change)

    # -- inside ------------------------------------------------------------------------
    def _edit(self, if_match: str | None, monitor_id: str | None,
              change: Callable[[Snapshot], tuple[str, int | None]]) -> Result:
        with self._lock:
            snap = self.read()
            if if_match is not None and if_match != snap.etag:
                raise _stale(self.path)
            if snap.config is None:
                raise Invalid(f"{snap.error} (fix the file first)")
            text, index = change(snap)
            if text == snap.text:
                assert monitor_id is not None  # an add always changes the text
                return Result(snap, monitor_id, changed=False)
            config = self._validate(snap, text, index, _kept(snap, index, monitor_id))
            raw = ((BOM if snap.bom else "") + text).encode("utf-8")
            _write(self.path, raw, snap.etag)
            new = self._snapshot(raw, _etag(raw), config)
            self._cached = new
            edited = (config.monitors[index].id if index is not None
                      else monitor_id)
            assert edited is not None
            return Result(new, edited)

    def _validate(self, snap: Snapshot, text: str, index: int | None,
                  kept: dict[int, Monitor]) -> Config:
        """The config `text` makes; Invalid with the loader's message, or Clash when the
        edited entry makes another entry's id. The whole document is checked by the loader,
        but the entries the edit left alone keep the monitors they made (`kept`, by
        position): only the edited one is read again (at 5,000 monitors, 10 ms rather than
        150)."""
        try:
            return parse_config(text, str(self.path), kept)
        except ConfigError as exc:
            if index is not None:
                self._clash(snap, text, index)
            raise self._invalid(str(exc), snap.list_key, index) from None

    def _invalid(self, message: str, list_key: str, index: int | None) -> Invalid:
        """The loader's message as Invalid: its path, and its pointer into the entry at
        `index` of the list when the path is in it."""
        path = _path_of(message, str(self.path))
        prefix = f"{list_key}[{index}]"
        inside = (path is not None and index is not None
                  and (path == prefix or path.startswith((prefix + ".", prefix + "["))))
        entry_pointer = pointer(path[len(prefix):]) if inside and path else None
        return Invalid(message, path, entry_pointer)

    def check(self, entry: Any, monitor_id: str | None = None) -> Invalid | None:
        """The loader's first error of `entry` alone under the file's top level (as the
        entry of `monitor_id`: its masks kept as the stored secrets), or None; nothing is
        written. A form checks its other fields so after a refusal (monitor.web.forms)."""
        snap = self.read()
        if snap.config is None:
            return None
        if monitor_id is not None:
            entry = unmasked(entry, snap.shown(monitor_id), snap.entry(monitor_id))
        try:
            parse_config(json.dumps(_alone(snap, entry)), str(self.path))
        except ConfigError as exc:
            return self._invalid(str(exc), snap.list_key, 0)
        return None

    def _clash(self, snap: Snapshot, text: str, index: int) -> None:
        """Raise Clash when the entry at `index` of `text` makes the id of another entry."""
        entry = json.loads(text)[snap.list_key][index]
        try:
            monitor_id = parse_config(json.dumps(_alone(snap, entry)), str(self.path)
                                      ).monitors[0].id
        except ConfigError:
            return  # the entry itself is not valid: the whole document's error says so
        other = snap._ids.get(monitor_id)
        if other is not None and other != index:
            raise Clash(f"the monitor {monitor_id!r} exists ({snap.list_key}[{other}]): give"
                        " this one another \"id\"")


def _alone(snap: Snapshot, entry: Any) -> dict[str, Any]:
    """The file's document with `entry` as its only monitor, without the status pages
    (they name monitors the entry alone lacks)."""
    return {**snap.document, snap.list_key: [entry], "statusPages": []}


def _kept(snap: Snapshot, index: int | None, monitor_id: str | None) -> dict[int, Monitor]:
    """The monitors of the entries an edit leaves as they were, by their position after it
    (all but `index`, the entry replaced or added; or, without an index, all but the entry
    of `monitor_id`, deleted). None when the file has warnings: each names its entry's
    position, and is said again by the loader."""
    config = snap.config
    if config is None or config.warnings:
        return {}
    made = list(config.monitors[:len(snap.entries)])
    if index is None:
        assert monitor_id is not None
        del made[snap.index(monitor_id)]
    return {position: monitor for position, monitor in enumerate(made) if position != index}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: `patch` applied to `target` (keys kept in their order, new ones after)."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def pointer(path: str) -> str:
    """A path as the loader writes it (`monitors[2].headers."X-Key"`) as a JSON pointer
    (RFC 6901: `/monitors/2/headers/X-Key`); "(root)" and "" are the whole document."""
    out = []
    for name, quoted, index in _STEP.findall("" if path == "(root)" else path):
        step = index or name or json.loads(quoted)
        out.append("/" + step.replace("~", "~0").replace("/", "~1"))
    return "".join(out)


def _path_of(message: str, source: str) -> str | None:
    """The JSON path a loader's message names, after the file's name."""
    rest = message.removeprefix(f"{source}: ")
    found = _PATH.match(rest)
    return found[1] if found else None


def _list(snap: Snapshot) -> tuple[jsontext.Span, list[jsontext.Span]]:
    array = jsontext.member(snap.text, snap.list_key)
    assert array is not None  # a valid config has its list
    return array, jsontext.items(snap.text, array)


def _etag(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def file_etag(path: Path) -> str | None:
    """The ETag of the file's bytes now, as a Snapshot of it says it; None when it cannot
    be read. Whether a config parsed from some bytes (`Result.snapshot`) is the file's
    still: a stamp taken after the editor's lock is let go may be a later edit's."""
    try:
        return _etag(path.read_bytes())
    except OSError:
        return None


def _stale(path: Path) -> Stale:
    return Stale(f"{path.name} has changed since it was read (its ETag is not the one"
                 " given): read it again, then edit")


def _write(path: Path, raw: bytes, etag: str) -> None:
    """`raw` as the file's new content, the previous kept as `<file>.bak`, each written to
    a temporary file of the same directory (owner-only), synced, and renamed over its
    place: a crash leaves the old file or the new one, never a part of one. Stale when the
    file's bytes are no longer those of `etag`, the version `raw` was made from."""
    target = path.resolve()  # a symbolic link stays one: its file is rewritten
    try:
        previous = target.read_bytes()
        _replace(target.with_name(target.name + BACKUP_SUFFIX), previous)
        _replace(target, raw, etag)
    except OSError as exc:
        raise Unwritable(f"cannot write {path}: {exc.strerror or exc}") from None


def _replace(target: Path, raw: bytes, etag: str | None = None) -> None:
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.",
                                         suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(raw)
            file.flush()
            os.fsync(file.fileno())
        # The lock keeps other editors out, not a hand edit: compared as late as can be,
        # right before the rename (a hand edit is then refused, not written over).
        if etag is not None and _etag(target.read_bytes()) != etag:
            raise _stale(target)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself made durable
    finally:
        os.close(directory)
