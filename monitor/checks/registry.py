"""The registry of check kinds. A kind is one module that calls `register`; kinds from
other packages load from the entry-point group `uptime_monitor.checks` (each entry point
names a Kind, or a module that registers the kind of the entry point's name), each loaded
when a config first uses it."""

from __future__ import annotations

import threading
from importlib.metadata import EntryPoint, entry_points

from monitor.core.errors import MonitorError
from monitor.core.kind import Kind
from monitor.core.model import COMMON_REASONS

ENTRY_POINT_GROUP = "uptime_monitor.checks"

_KINDS: dict[str, Kind] = {}
_points: dict[str, EntryPoint] | None = None
_lock = threading.Lock()


class PluginError(MonitorError):
    """An outside check kind could not be loaded."""


def register(kind: Kind) -> Kind:
    _KINDS[kind.name] = kind
    return kind


def _entry_points() -> dict[str, EntryPoint]:
    """The outside kinds installed, by name, not loaded: one that is broken fails only the
    configs that use it."""
    global _points
    with _lock:
        if _points is None:
            _points = {point.name: point for point in entry_points(group=ENTRY_POINT_GROUP)}
        return _points


def _load(point: EntryPoint) -> None:
    try:
        loaded = point.load()
    except Exception as exc:  # noqa: BLE001 - any import error of someone else's code
        raise PluginError(f"check kind {point.name!r} ({point.value}) cannot be loaded:"
                          f" {type(exc).__name__}: {exc}") from None
    if isinstance(loaded, Kind):
        register(loaded)
    if point.name not in _KINDS:
        raise PluginError(f"check kind {point.name!r} ({point.value}) is neither a Kind nor"
                          " a module that registers one by that name")


def get(name: str) -> Kind:
    """The kind registered as `name`, loading an installed one on first use; KeyError if
    there is none, PluginError if it cannot be loaded."""
    if name not in _KINDS:
        point = _entry_points().get(name)
        if point is None:
            raise KeyError(name)
        _load(point)
    return _KINDS[name]


def find(name: str) -> Kind | None:
    """The kind registered as `name`, or None."""
    try:
        return get(name)
    except KeyError:
        return None


def loaded() -> list[Kind]:
    """The kinds registered so far (the built-in ones, and outside ones already used)."""
    return list(_KINDS.values())


def names() -> list[str]:
    """Every kind registered or installed."""
    return sorted({*_KINDS, *_entry_points()})


def all_reasons() -> tuple[str, ...]:
    """Every reason of every kind loaded, common ones first, each once."""
    seen = dict.fromkeys(COMMON_REASONS)
    for kind in _KINDS.values():
        seen.update(dict.fromkeys(kind.reasons))
    return tuple(seen)
