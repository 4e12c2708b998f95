"""The registry of check kinds. A kind is one module that calls `register`; kinds from
other packages load from the entry-point group `uptime_monitor.checks` (each entry point
names a Kind, or a module that registers its kinds when imported)."""

from __future__ import annotations

import threading
from importlib.metadata import entry_points

from monitor.checks.model import COMMON_REASONS, Kind
from monitor.errors import MonitorError

ENTRY_POINT_GROUP = "uptime_monitor.checks"

_KINDS: dict[str, Kind] = {}
_loaded = False
_lock = threading.Lock()


class PluginError(MonitorError):
    """An outside check kind could not be loaded."""


def register(kind: Kind) -> Kind:
    _KINDS[kind.name] = kind
    return kind


def _load_plugins() -> None:
    global _loaded
    with _lock:
        if _loaded:
            return
        _loaded = True
        for point in entry_points(group=ENTRY_POINT_GROUP):
            try:
                loaded = point.load()
            except Exception as exc:  # noqa: BLE001 - any import error of someone else's code
                raise PluginError(f"check kind {point.name!r} ({point.value}) cannot be"
                                  f" loaded: {type(exc).__name__}: {exc}") from None
            if isinstance(loaded, Kind):
                register(loaded)
            elif point.name not in _KINDS:
                raise PluginError(f"check kind {point.name!r} ({point.value}) is neither a"
                                  " Kind nor a module that registers one by that name")


def get(name: str) -> Kind:
    """The kind registered as `name`; KeyError if there is none."""
    if name not in _KINDS:
        _load_plugins()
    return _KINDS[name]


def find(name: str) -> Kind | None:
    """The kind registered as `name`, or None."""
    try:
        return get(name)
    except KeyError:
        return None


def names() -> list[str]:
    _load_plugins()
    return sorted(_KINDS)


def all_reasons() -> tuple[str, ...]:
    """Every reason of every kind loaded, common ones first, each once."""
    seen = dict.fromkeys(COMMON_REASONS)
    for kind in _KINDS.values():
        seen.update(dict.fromkeys(kind.reasons))
    return tuple(seen)
