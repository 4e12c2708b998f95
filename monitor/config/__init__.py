"""Reading and validating `config.json` in one pass that also fills the defaults.

Every error names the file and the JSON path of the offending value, so that the CLI can
print it on one line: `config.json: websites[2].checkInterval: must be a number greater than 0`.
Each entry of `websites` is a monitor of some kind (`type`, default `http`): the keys every
monitor has are read here, the kind's own keys by the kind's schema (checks.registry).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from monitor import secrets
from monitor.checks import Kind, Monitor, registry
from monitor.checks.http import spec as http_spec  # the canary is an http monitor
from monitor.checks.model import AlertRules
from monitor.checks.registry import PluginError
from monitor.checks.schema import MAX_SECONDS, Fields
from monitor.config import notify, rules
from monitor.config.notify import (
    DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_NOTIFY_ON,
    DEFAULT_NOTIFY_RETRY_FOR,
    EVENTS,
    TEMPLATE_FIELDS,
    Provider,
)
from monitor.errors import ConfigError, ConfigNotFound
from monitor.secrets import display_url

__all__ = ["DEFAULT_NOTIFY_ON", "EVENTS", "TEMPLATE_FIELDS", "Config", "Monitor", "Provider",
           "display_url", "load_config", "parse_config"]

DEFAULT_CHECK_INTERVAL = 2.0
DEFAULT_ALERT_WINDOW = 120.0
DEFAULT_ALERT_THRESHOLD = 0.8
MAX_DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_WORKERS = 256
MAX_PROCESSES = 64
MAX_RETENTION_DAYS = 36500.0  # 100 years; the purge's cut-off must be a representable date
MAX_WORKERS = 10_000  # threads, started on demand
MAX_IN_FLIGHT = 1_000_000  # event-loop checks: descriptors, not threads
CANARY_INTERVAL = 10.0
CANARY_TIMEOUT = 3.0


@dataclass(frozen=True)
class Config:
    monitors: tuple[Monitor, ...]
    default_check_interval: float = DEFAULT_CHECK_INTERVAL
    alert_window: float = DEFAULT_ALERT_WINDOW
    alert_threshold: float = DEFAULT_ALERT_THRESHOLD
    retention_days: float | None = None
    max_workers: int = DEFAULT_MAX_WORKERS
    max_in_flight: int | None = None  # event-loop checks in flight; None: open files allow
    processes: int | None = None  # probe processes; None: chosen from the load (run.probes)
    canary: Monitor | None = None
    source: str = field(default="config.json", compare=False)
    # Notification providers (`notify`), how long a delivery is retried, and the URL the
    # monitor calls while it runs (a dead man's switch): secret, never in a repr.
    providers: tuple[Provider, ...] = ()
    notify_retry_for: float = DEFAULT_NOTIFY_RETRY_FOR
    heartbeat_url: str | None = field(default=None, repr=False)
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL

    @property
    def heartbeat_shown(self) -> str | None:
        """The heartbeat URL as messages show it (`https://hc-ping.com/***`)."""
        return None if self.heartbeat_url is None else notify.heartbeat_shown(self.heartbeat_url)

    @property
    def max_alert_window(self) -> float:
        return max((m.alert_window for m in self.monitors), default=self.alert_window)


class _DupDict(dict):
    """A JSON object that remembers keys written twice (json keeps the last silently)."""

    duplicates: list[str]


def _pairs_hook(pairs: list[tuple[str, Any]]) -> _DupDict:
    obj = _DupDict()
    obj.duplicates = []
    for key, value in pairs:
        if key in obj:
            obj.duplicates.append(key)
        obj[key] = value
    return obj


def load_config(path: str | Path) -> Config:
    """Read, parse and validate a config file; raise ConfigError naming what is wrong."""
    name = str(path)
    try:
        # utf-8-sig: a byte-order mark, as some Windows editors write, is not an error.
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigNotFound(f"{name}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{name}: is a directory, not a file") from None
    except PermissionError:
        raise ConfigError(f"{name}: permission denied") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read: {exc.strerror}") from None
    return parse_config(text, name)


def parse_config(text: str, source: str = "config.json") -> Config:
    try:
        document = json.loads(text, object_pairs_hook=_pairs_hook)
    except json.JSONDecodeError as exc:
        # json's own text ends in "... at" before the position it appends; we give it first.
        what = exc.msg.removesuffix(" at").removesuffix(" starting")
        raise ConfigError(
            f"{source}: invalid JSON at line {exc.lineno}, column {exc.colno}: {what}"
        ) from None
    except RecursionError:
        raise ConfigError(f"{source}: invalid JSON: nested too deeply") from None
    except ValueError:  # an integer literal longer than Python's int-digit limit (4300)
        raise ConfigError(f"{source}: invalid JSON: a number has too many digits") from None
    return _Validator(source).config(document)


TOP_KEYS = (
    "websites",
    "defaultCheckInterval",
    "alertWindow",
    "alertThreshold",
    "retentionDays",
    "maxWorkers",
    "maxInFlight",
    "processes",
    "canary",
    "plugins",
    *notify.TOP_KEYS,
    *rules.KEYS,
)
# The kind of monitor that top-level `plugins` run on, and that may name its own.
SITE_KIND = "http"
# The keys every monitor has, whatever its kind.
COMMON_KEYS = ("id", "name", "type", "checkInterval", "timeout", "alertWindow",
               "alertThreshold", *notify.MONITOR_KEYS, *rules.KEYS)


def _plugged(site: str, kind: str) -> str:
    """The id or name of a site's plugged monitor: `https://host/` and tls make
    `https://host/tls`, not `https://host//tls`."""
    return f"{site.removesuffix('/')}/{kind}"


class _Validator(Fields):
    # The top-level notification keys: the providers a monitor's `notify` names, and the
    # default of its `notifyOn`.
    notifications = notify.Notify()
    # The top level's alert rules: every monitor's defaults.
    default_rules = AlertRules()

    def config(self, doc: Any) -> Config:
        if not isinstance(doc, dict):
            raise self.fail("(root)", "must be a JSON object")
        # Plugins first: an outside kind named there is loaded, and its top-level keys known.
        plugins = self.plugins(doc, "plugins") if "plugins" in doc else ()
        # Kinds' keys that may be given once at the top level, as every monitor's default
        # (of the built-in kinds: an outside kind is loaded only when a monitor uses it).
        kinds = registry.loaded()
        self.check_keys(doc, TOP_KEYS + tuple(k for kind in kinds for k in kind.top_keys), "")
        interval = self.interval(doc, "defaultCheckInterval", "defaultCheckInterval",
                                 DEFAULT_CHECK_INTERVAL)
        window = self.duration(doc, "alertWindow", "alertWindow", DEFAULT_ALERT_WINDOW,
                               MAX_SECONDS)
        threshold = self.fraction(doc, "alertThreshold", "alertThreshold",
                                  DEFAULT_ALERT_THRESHOLD)
        retention = self.positive(doc, "retentionDays", "retentionDays", 0.0,
                                  MAX_RETENTION_DAYS) or None
        workers = self.integer(doc, "maxWorkers", "maxWorkers", DEFAULT_MAX_WORKERS,
                               MAX_WORKERS)
        in_flight = self.integer(doc, "maxInFlight", "maxInFlight", 0, MAX_IN_FLIGHT) or None
        # Defaults of kinds' own keys, given at the top level.
        kind_defaults: dict[str, Any] = {}
        for kind in kinds:
            if kind.defaults is not None:
                kind_defaults.update(kind.defaults(self, doc))
        processes = doc.get("processes", "auto")
        if processes == "auto":
            processes = None
        elif (not isinstance(processes, int) or isinstance(processes, bool)
              or not 1 <= processes <= MAX_PROCESSES):
            raise self.fail("processes", "must be \"auto\" or a whole number from 1 to"
                            f" {MAX_PROCESSES}")
        self.notifications = notify.top(self, doc)
        self.default_rules = rules.rules(self, doc, "", AlertRules())

        if "websites" not in doc:
            raise self.fail("websites", "is required (a list of sites to monitor)")
        websites = doc["websites"]
        if not isinstance(websites, list):
            raise self.fail("websites", "must be a list of site objects")
        if not websites:
            raise self.fail("websites", "must contain at least one site")

        canary = self.canary(doc, threshold, kind_defaults) if "canary" in doc else None
        monitors = self.monitors(websites, plugins, interval, window, threshold,
                                 kind_defaults)
        # For text that has no monitor at hand (an unexpected error): secrets.redact_known.
        secrets.remember([*(value for m in (*monitors, *filter(None, [canary]))
                            for value in m.secrets), *self.notifications.secrets])
        return Config(
            monitors=tuple(monitors),
            default_check_interval=interval,
            alert_window=window,
            alert_threshold=threshold,
            retention_days=retention,
            max_workers=workers,
            max_in_flight=in_flight,
            processes=processes,
            canary=canary,
            source=self.source,
            providers=self.notifications.providers,
            notify_retry_for=self.notifications.retry_for,
            heartbeat_url=self.notifications.heartbeat_url,
            heartbeat_interval=self.notifications.heartbeat_interval,
        )

    def monitors(self, websites: list, plugins: tuple[Kind, ...], interval: float,
                 window: float, threshold: float, kind_defaults: dict[str, Any],
                 ) -> list[Monitor]:
        """The monitors of `websites`, in order, then those their plugins make; ids unique."""
        seen: dict[str, int] = {}
        monitors = []
        derived: list[tuple[Monitor, str]] = []
        for index, entry in enumerate(websites):
            path = f"websites[{index}]"
            monitor = self.monitor(entry, path, interval, window, threshold, kind_defaults)
            if monitor.id in seen:
                # Named by the key that made the id: `id`, or the first of the kind's own
                # keys that both entries give (http: URL; disk: path), else `type` (cpu).
                first = websites[seen[monitor.id]]
                key = "id" if "id" in entry else next(
                    (k for k in registry.get(monitor.kind).keys if k in entry and k in first),
                    "type")
                raise self.fail(f"{path}.{key}", f"duplicate of websites[{seen[monitor.id]}]"
                                f".{key}")
            seen[monitor.id] = index
            monitors.append(monitor)
            if monitor.kind == SITE_KIND:
                own = self.plugins(entry, f"{path}.plugins") if "plugins" in entry else plugins
                derived += [(m, path) for m in self.plugged(monitor, own, kind_defaults)]
        for monitor, path in derived:
            if monitor.id in seen:
                raise self.fail(f"{path}.plugins", f"makes the monitor {monitor.id!r}, the id"
                                f" of websites[{seen[monitor.id]}]")
            monitors.append(monitor)
        return monitors

    def plugins(self, obj: dict, path: str) -> tuple[Kind, ...]:
        """`plugins`: kinds that also check every http site (or this one), each once."""
        value = obj["plugins"]
        if not isinstance(value, list):
            raise self.fail(path, "must be a list of check kinds")
        able = ", ".join(k.name for k in registry.loaded() if k.plugin is not None)
        kinds: list[Kind] = []
        for index, name in enumerate(value):
            where = f"{path}[{index}]"
            if not isinstance(name, str) or not name:
                raise self.fail(where, "must be the name of a check kind")
            try:
                kind = registry.get(name)
            except KeyError:
                raise self.fail(where, f"unknown check kind {json.dumps(name)} (kinds that"
                                       f" run on sites: {able})") from None
            except PluginError as exc:
                raise self.fail(where, str(exc)) from None
            if kind.plugin is None:
                raise self.fail(where, f"kind {json.dumps(name)} cannot run on a site (kinds"
                                       f" that can: {able})")
            if kind in kinds:
                raise self.fail(where, f"{json.dumps(name)} appears more than once")
            kinds.append(kind)
        return tuple(kinds)

    def plugged(self, site: Monitor, kinds: tuple[Kind, ...],
                kind_defaults: dict[str, Any]) -> list[Monitor]:
        """The monitors `kinds` make of an http site: id "<site id>/<kind>", name
        "<site label>/<kind>" (one slash, when the site's ends in one), the site's
        interval, timeout, alert settings and secrets."""
        out = []
        for kind in kinds:
            assert kind.plugin is not None
            parsed = kind.plugin(site, kind_defaults)
            if parsed is None:
                continue  # nothing of this kind to check on that site (tls on http://)
            out.append(replace(
                site, id=_plugged(site.id, kind.name), kind=kind.name, target=parsed.target,
                # Named, so that the views tell it from its site (content's target is the
                # site's URL).
                name=_plugged(site.label, kind.name), spec=parsed.spec, site=site.id,
                secrets=tuple(dict.fromkeys((*parsed.secrets, *site.secrets)))))
        return out

    def canary(self, doc: dict, threshold: float, kind_defaults: dict[str, Any]) -> Monitor:
        """`canary`: a URL, or an http monitor object; checked every 10 s and on demand."""
        entry = doc["canary"]
        if isinstance(entry, str):
            http_spec.url(self, entry, "canary")  # so that an error names the path as written
            entry = {"URL": entry}
        if not isinstance(entry, dict):
            raise self.fail("canary", "must be a URL or an object with a URL")
        if entry.get("type", "http") != "http":
            raise self.fail("canary.type", "must be http")
        if "plugins" in entry:
            raise self.fail("canary.plugins", "the canary takes no plugins")
        for key in notify.MONITOR_KEYS:
            if key in entry:
                raise self.fail(f"canary.{key}", "the canary sends no notifications")
        for key in rules.KEYS:
            if key in entry:
                raise self.fail(f"canary.{key}", "the canary raises no alerts")
        monitor = self.monitor(entry, "canary", CANARY_INTERVAL, CANARY_INTERVAL, threshold,
                               kind_defaults)
        if "timeout" not in entry:
            monitor = replace(monitor, timeout=min(CANARY_TIMEOUT, monitor.interval))
        # It raises no alerts: whether the monitor itself is offline is all it tells.
        return replace(monitor, name=monitor.name or "canary", notify=(),
                       notify_on=frozenset())

    def monitor(self, entry: Any, path: str, interval: float, window: float, threshold: float,
                kind_defaults: dict[str, Any]) -> Monitor:
        if not isinstance(entry, dict):
            raise self.fail(path, "must be an object with a URL")
        name = entry.get("type", "http")
        try:
            kind = registry.get(name) if isinstance(name, str) else None
        except KeyError:
            kind = None
        if kind is None:
            raise self.fail(f"{path}.type", f"must be one of: {', '.join(registry.names())}")
        own = ("plugins",) if kind.name == SITE_KIND else ()
        self.check_keys(entry, COMMON_KEYS + kind.keys + own, f"{path}.")
        parsed = kind.parse(self, entry, path, kind_defaults)
        monitor_interval = self.interval(entry, "checkInterval", f"{path}.checkInterval",
                                         interval)
        timeout = self.duration(entry, "timeout", f"{path}.timeout",
                                min(MAX_DEFAULT_TIMEOUT, monitor_interval), MAX_SECONDS)
        ident = self.text(entry, "id", f"{path}.id") or parsed.id or f"{kind.name}:{parsed.target}"
        return Monitor(
            id=ident,
            kind=kind.name,
            target=parsed.target,
            name=self.text(entry, "name", f"{path}.name"),
            interval=monitor_interval,
            timeout=timeout,
            alert_window=self.duration(entry, "alertWindow", f"{path}.alertWindow", window,
                                       MAX_SECONDS),
            alert_threshold=self.fraction(entry, "alertThreshold", f"{path}.alertThreshold",
                                          threshold),
            spec=parsed.spec,
            secrets=parsed.secrets,
            notify=notify.recipients(self, entry, f"{path}.notify", self.notifications.providers),
            notify_on=notify.events(self, entry, f"{path}.notifyOn", self.notifications.notify_on),
            rules=rules.rules(self, entry, f"{path}.", self.default_rules),
        )
