"""The registry of check kinds: a kind is found by its name, and its module imported the
first time a config uses it.

The built-in kinds are a table of names and modules (`BUILT_IN`), each module defining
its `KIND`: importing the config or the store imports none of them, so a config of tcp
monitors never loads libcurl (pycurl), dnspython, psutil or selectolax. The table also
says what is asked of a kind before it is loaded: the keys it reads at the config's top
level, whether it runs on sites (`plugins`), whether it watches a source with its own
clock. Kinds from other packages load from the entry-point group `uptime_monitor.checks`
(each entry point names a Kind, or a module that registers the kind of the entry point's
name), also when a config first uses them."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from monitor.core.errors import MonitorError
from monitor.core.kind import Kind
from monitor.core.model import COMMON_REASONS

ENTRY_POINT_GROUP = "uptime_monitor.checks"


@dataclass(frozen=True)
class BuiltIn:
    """A built-in kind as known before its module is imported (tests hold it to the
    module's KIND)."""

    module: str  # defines KIND
    top_keys: tuple[str, ...] = ()  # its keys the config's top level may give as defaults
    on_sites: bool = False  # it has a `plugin`: `plugins` may name it
    watches: bool = False  # its results carry the time of the source it watches


_CERT_KEYS = ("tlsMinDaysLeft", "tlsFailDaysLeft")
BUILT_IN = {
    "content": BuiltIn("monitor.checks.content.kind",
                       ("contentHistory", "contentMaxDeviation", "contentFailDeviation"),
                       on_sites=True),
    "cpu": BuiltIn("monitor.checks.host.cpu"),
    "disk": BuiltIn("monitor.checks.host.disk"),
    "dns": BuiltIn("monitor.checks.dns.kind", on_sites=True),
    "http": BuiltIn("monitor.checks.http.kind", ("maxBodyBytes", *_CERT_KEYS)),
    "load": BuiltIn("monitor.checks.host.load"),
    "log": BuiltIn("monitor.checks.log", watches=True),
    "memory": BuiltIn("monitor.checks.host.memory"),
    "metric": BuiltIn("monitor.checks.metric", watches=True),
    "process": BuiltIn("monitor.checks.host.process"),
    "push": BuiltIn("monitor.checks.push.kind", watches=True),
    "tcp": BuiltIn("monitor.checks.tcp"),
    "tls": BuiltIn("monitor.checks.tls", _CERT_KEYS, on_sites=True),
}

_KINDS: dict[str, Kind] = {}
_points: dict[str, EntryPoint] | None = None
_lock = threading.Lock()


class PluginError(MonitorError):
    """An outside check kind could not be loaded."""


def register(kind: Kind) -> Kind:
    """Make `kind` known by its name (an outside package's kind, a test's)."""
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
    """The kind called `name`, its module imported on first use; KeyError if there is
    none, PluginError if an outside one cannot be loaded."""
    kind = _KINDS.get(name)
    if kind is not None:
        return kind
    built_in = BUILT_IN.get(name)
    if built_in is not None:
        # The import lock makes a first use from two threads import the module once.
        return register(importlib.import_module(built_in.module).KIND)
    point = _entry_points().get(name)
    if point is None:
        raise KeyError(name)
    _load(point)
    return _KINDS[name]


def find(name: str) -> Kind | None:
    """The kind called `name`, or None."""
    try:
        return get(name)
    except KeyError:
        return None


def built_in() -> list[Kind]:
    """Every built-in kind, by name, each module imported (the docs, `check` of all)."""
    return [get(name) for name in sorted(BUILT_IN)]


def names() -> list[str]:
    """Every kind built in, registered or installed, without loading any."""
    return sorted({*BUILT_IN, *_KINDS, *_entry_points()})


def top_keys() -> tuple[str, ...]:
    """The kinds' keys the config's top level may give (every monitor's defaults): the
    built-in kinds', loaded or not, and those of the outside kinds loaded."""
    found = dict.fromkeys(key for kind in BUILT_IN.values() for key in kind.top_keys)
    for kind in _KINDS.values():
        found.update(dict.fromkeys(kind.top_keys))
    return tuple(found)


def owners_of(keys: Iterable[str]) -> list[Kind]:
    """The kinds (imported now if built in) that read any of `keys` at the top level, in
    the order of their first key among `keys`."""
    found: dict[str, None] = {}
    for key in keys:
        found.update(dict.fromkeys(name for name, kind in BUILT_IN.items()
                                   if key in kind.top_keys))
        found.update(dict.fromkeys(kind.name for kind in _KINDS.values()
                                   if key in kind.top_keys))
    return [get(name) for name in found]


def on_sites() -> list[str]:
    """The kinds that can also check every http site (`plugins`), by name."""
    found = {name for name, kind in BUILT_IN.items() if kind.on_sites}
    found.update(kind.name for kind in _KINDS.values() if kind.plugin is not None)
    return sorted(found)


def own_clocks() -> set[str]:
    """The kinds whose results carry the time of the source they watch (an access log's),
    not this machine's clock."""
    found = {name for name, kind in BUILT_IN.items() if kind.watches}
    found.update(kind.name for kind in _KINDS.values() if kind.watch is not None)
    return found


def all_reasons() -> tuple[str, ...]:
    """Every reason of every kind loaded, common ones first, each once."""
    seen = dict.fromkeys(COMMON_REASONS)
    for kind in _KINDS.values():
        seen.update(dict.fromkeys(kind.reasons))
    return tuple(seen)
