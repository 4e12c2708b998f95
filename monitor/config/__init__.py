"""Reading and validating `config.json` in one pass that also fills the defaults.

Every error names the file and the JSON path of the offending value, so that the CLI can
print it on one line: `config.json: websites[2].checkInterval: must be a number greater than 0`.
Each entry of `monitors` (or `websites`, its older name) is a monitor of some kind (`type`,
default `http`): the keys every monitor has are read here, the kind's own keys by the
kind's schema (checks.registry). What is accepted but spelled the old way is said in one
warning line per entry, on stderr, once per process (`load_config`).
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from monitor.checks import registry
from monitor.checks.http import spec as http_spec  # the canary is an http monitor
from monitor.checks.registry import PluginError
from monitor.config import agents as agent_keys
from monitor.config import notify, rules, status, web
from monitor.config import retention as tiers
from monitor.config.notify import (
    DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_NOTIFY_RETRY_FOR,
    Provider,
)
from monitor.core import schemas, secrets
from monitor.core.errors import ConfigError, ConfigNotFound
from monitor.core.fields import MAX_SECONDS, MIN_INTERVAL, Fields
from monitor.core.kind import Kind
from monitor.core.model import LOCAL, Monitor
from monitor.core.rules import AlertRules

__all__ = ["Config", "load_config", "parse_config"]

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
    # How long each tier of history is kept (config.retention); None: nothing is purged.
    retention: tiers.Retention | None = None
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
    # What is accepted but deprecated, one line each (`config.json: websites[2]: ...`).
    warnings: tuple[str, ...] = field(default=(), compare=False)
    # The web server's API tokens (`apiTokens`): secrets, never in a repr.
    api_tokens: tuple[web.ApiToken, ...] = field(default=(), repr=False)
    # The public status pages (`statusPages`), their monitors by id.
    status_pages: tuple[status.StatusPage, ...] = ()
    # The remote agents (`agents`: their tokens are secrets, never in a repr) and how long
    # one may stay silent before it is lost (`agentTimeout`).
    agents: tuple[agent_keys.Agent, ...] = field(default=(), repr=False)
    agent_timeout: float = agent_keys.DEFAULT_AGENT_TIMEOUT

    @property
    def locations(self) -> tuple[str, ...]:
        """Every location a monitor may name: LOCAL, then the agents', sorted."""
        return (LOCAL, *sorted({agent.location for agent in self.agents}))

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


# The warning lines said in this process: a reload, or a second command of one process,
# does not say them again.
_said: set[str] = set()


def _to_stderr(line: str) -> None:
    # No stderr to say it on (closed): a warning never stops a load.
    with contextlib.suppress(OSError, ValueError):
        print(f"Warning: {line}", file=sys.stderr, flush=True)


def load_config(path: str | Path, warn: Callable[[str], None] = _to_stderr) -> Config:
    """Read, parse and validate a config file; raise ConfigError naming what is wrong.
    Its warnings go to `warn` (default: stderr, as `Warning: ...`), each line once per
    process."""
    config = _read_config(path)
    for line in config.warnings:
        if line not in _said:
            _said.add(line)
            warn(line)
    return config


def _read_config(path: str | Path) -> Config:
    name = str(path)
    try:
        # utf-8-sig: a byte-order mark, as some Windows editors write, is not an error.
        text = Path(path).read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigNotFound(name) from None
    except IsADirectoryError:
        raise ConfigError(f"{name}: is a directory, not a file") from None
    except PermissionError:
        raise ConfigError(f"{name}: permission denied") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read: {exc.strerror}") from None
    return parse_config(text, name)


def parse_config(text: str, source: str = "config.json",
                 known: Mapping[int, Monitor] | None = None) -> Config:
    """`known`: the monitors of entries at these positions, made from the same entries under
    the same top level (the config editor's unchanged ones): taken, not read again."""
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
    validator = _Validator(source)
    validator.known = known or {}
    return validator.config(document)


# The list of monitors, by its name and by its older one: the same list, one of them given.
LIST_KEYS = ("monitors", "websites")
TOP_KEYS = (
    *LIST_KEYS,
    "defaultCheckInterval",
    "alertWindow",
    "alertThreshold",
    "retentionDays",
    "retention",
    "maxWorkers",
    "maxInFlight",
    "processes",
    "canary",
    "plugins",
    "$schema",
    *notify.TOP_KEYS,
    *web.TOP_KEYS,
    *status.TOP_KEYS,
    *agent_keys.TOP_KEYS,
    *rules.KEYS,
)
# The kind of monitor that top-level `plugins` run on, and that may name its own.
SITE_KIND = "http"
# The keys every monitor has, whatever its kind.
COMMON_KEYS = ("id", "name", "type", "checkInterval", "timeout", "alertWindow",
               "alertThreshold", "paused", "tags", *agent_keys.MONITOR_KEYS,
               *notify.MONITOR_KEYS, *rules.KEYS)
# What the keys read here mean, for people: key -> (default as shown, meaning). The
# notification and alert-rule keys say theirs in their modules (docs/gen.py joins them).
HELP = {
    "monitors": ("required", "the monitors: a list of objects, at least one"),
    "websites": ("", "the older name of `monitors`, the same list (not both)"),
    "defaultCheckInterval": ("2 s", "the interval of a monitor without `checkInterval` (0.01 s"
                                    " to a day)"),
    "alertWindow": ("120 s", "the duration of checks the availability is computed over (at most"
                             " a day)"),
    "alertThreshold": ("0.8", "the availability (above 0, at most 1) below which an alert"
                              " starts"),
    "retentionDays": ("none", "the older way to say `retention`: while monitoring, delete"
                              " data of every tier older than this many days (checked"
                              " hourly; at most 36500); with `retention`, the raw checks'"),
    "maxWorkers": ("256", "bound of the worker threads that run blocking kinds' checks, over"
                          " all processes (started on demand; at most 10000)"),
    "maxInFlight": ("open files", "bound of the http checks in flight at once, over all"
                                  " processes; by default each process keeps up to a quarter"
                                  " of its open-file limit in flight"),
    "processes": ("`\"auto\"`", "probe processes the checks run in: `\"auto\"` (one below 300"
                                 " checks/s, else one per 2,500 checks/s, at least two and at"
                                 " most one per core) or a number from 1 to 64"),
    "canary": ("none", "a URL that should always answer, or an http monitor object: failures"
                       " are confirmed against it (is it me?)"),
    "plugins": ("none", "kinds that also check every http site, each as a monitor of its own"
                        " (`tls`, `content`, `dns`)"),
    "$schema": ("none", "the URL or path of this file's JSON Schema (`monitoringApp.py"
                        " schema` prints it), for editors; the monitor ignores it"),
    "id": ("from kind and target", "the monitor's stable id, for its history, alerts and stats;"
                                   " unique"),
    "name": ("none", "the label views, alerts and notifications show, never what is checked"
                     " (written the old way, a dns monitor's `name` without `host`, or a"
                     " process monitor's without `process` and `match`, is still what it"
                     " looks up, with a warning)"),
    "type": ("`http`", "the kind of check"),
    "checkInterval": ("`defaultCheckInterval`", "the duration between two checks (0.01 s to a"
                                                " day)"),
    "timeout": ("10 s, at most the interval", "the duration the whole check may take (at most a"
                                              " day)"),
    "paused": ("`false`", "`true`: kept and listed, but not checked (no results, no alerts)"),
    "tags": ("none", "a list of labels, each once, that lists and the dashboard group by"),
    **tiers.HELP,
    **status.HELP,
    **agent_keys.HELP,
}
# The JSON Schema fragment of each key read here (monitor.config.schema makes the config's
# schema of them, and of the kinds', notifications' and rules' own).
SCHEMA = {
    "monitors": {"type": "array", "minItems": 1},
    "websites": {"type": "array", "minItems": 1},
    "defaultCheckInterval": schemas.duration(MAX_SECONDS, MIN_INTERVAL),
    "alertWindow": schemas.duration(MAX_SECONDS),
    "alertThreshold": schemas.fraction(),
    "retentionDays": schemas.positive(MAX_RETENTION_DAYS),
    "maxWorkers": schemas.integer(1, MAX_WORKERS),
    "maxInFlight": schemas.integer(1, MAX_IN_FLIGHT),
    "processes": {"anyOf": [{"const": "auto"}, schemas.integer(1, MAX_PROCESSES)]},
    "canary": {"anyOf": [schemas.url(), {"type": "object"}]},
    "plugins": schemas.names(),
    "$schema": schemas.text(),
    "id": schemas.text(),
    "name": schemas.text(),
    "type": {"type": "string"},
    "checkInterval": schemas.duration(MAX_SECONDS, MIN_INTERVAL),
    "timeout": schemas.duration(MAX_SECONDS),
    "paused": schemas.boolean(),
    "tags": schemas.names(),
    **tiers.SCHEMA,
    **status.SCHEMA,
    **agent_keys.SCHEMA,
}


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
    list_key = "monitors"  # as the file names its list: "monitors" or "websites"
    known: Mapping[int, Monitor] = MappingProxyType({})  # parse_config's `known`
    # The agents' locations, sorted: what a monitor's `locations` may name besides LOCAL.
    agent_locations: tuple[str, ...] = ()

    def config(self, doc: Any) -> Config:
        if not isinstance(doc, dict):
            raise self.fail("(root)", "must be a JSON object")
        # Plugins first: an outside kind named there is loaded, and its top-level keys known.
        plugins = self.plugins(doc, "plugins") if "plugins" in doc else ()
        # Kinds' keys that may be given once at the top level, as every monitor's default
        # (the built-in kinds' and the outside kinds' loaded: one is loaded only when a
        # monitor or `plugins` uses it).
        self.check_keys(doc, TOP_KEYS + registry.top_keys(), "")
        interval = self.interval(doc, "defaultCheckInterval", "defaultCheckInterval",
                                 DEFAULT_CHECK_INTERVAL)
        window = self.duration(doc, "alertWindow", "alertWindow", DEFAULT_ALERT_WINDOW,
                               MAX_SECONDS)
        threshold = self.fraction(doc, "alertThreshold", "alertThreshold",
                                  DEFAULT_ALERT_THRESHOLD)
        retention = self.positive(doc, "retentionDays", "retentionDays", 0.0,
                                  MAX_RETENTION_DAYS) or None
        keep = tiers.retention(self, doc, retention)
        workers = self.integer(doc, "maxWorkers", "maxWorkers", DEFAULT_MAX_WORKERS,
                               MAX_WORKERS)
        in_flight = self.integer(doc, "maxInFlight", "maxInFlight", 0, MAX_IN_FLIGHT) or None
        # Defaults of kinds' own keys, given at the top level: read by the kinds that own
        # them (loaded for it); a kind's monitors fall back on its defaults for the others.
        kind_defaults: dict[str, Any] = {}
        for kind in registry.owners_of(doc):
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
        tokens = web.api_tokens(self, doc)
        remote = agent_keys.top(self, doc, {token.token: f"apiTokens[{index}]"
                                        for index, token in enumerate(tokens)})
        self.agent_locations = remote.locations

        entries = self.entries(doc)
        canary = self.canary(doc, threshold, kind_defaults) if "canary" in doc else None
        monitors = self.monitors(entries, plugins, interval, window, threshold,
                                 kind_defaults)
        pages = status.status_pages(self, doc, monitors)
        # For text that has no monitor at hand (an unexpected error): secrets.redact_known.
        secrets.remember([*(value for m in (*monitors, *filter(None, [canary]))
                            for value in m.secrets), *self.notifications.secrets,
                           *(token.token for token in tokens),
                           *(agent.token for agent in remote.agents)])
        return Config(
            monitors=tuple(monitors),
            default_check_interval=interval,
            alert_window=window,
            alert_threshold=threshold,
            retention_days=retention,
            retention=keep,
            max_workers=workers,
            max_in_flight=in_flight,
            processes=processes,
            canary=canary,
            source=self.source,
            providers=self.notifications.providers,
            notify_retry_for=self.notifications.retry_for,
            heartbeat_url=self.notifications.heartbeat_url,
            heartbeat_interval=self.notifications.heartbeat_interval,
            warnings=tuple(self.warnings),
            api_tokens=tokens,
            status_pages=pages,
            agents=remote.agents,
            agent_timeout=remote.timeout,
        )

    def entries(self, doc: dict) -> list:
        """The list of monitors, `monitors` or `websites`; errors name the key the file
        used, as every path in an entry does (`websites[3].checkInterval`)."""
        given = [key for key in LIST_KEYS if key in doc]
        if len(given) > 1:
            raise self.fail("websites", 'is the older name of "monitors": give one of them,'
                                        " not both")
        if not given:
            raise self.fail("monitors", 'is required (the list of monitors to check; also'
                                        ' accepted as "websites")')
        self.list_key = given[0]
        entries = doc[self.list_key]
        if not isinstance(entries, list):
            raise self.fail(self.list_key, "must be a list of monitor objects")
        if not entries:
            raise self.fail(self.list_key, "must contain at least one monitor")
        return entries

    def monitors(self, entries: list, plugins: tuple[Kind, ...], interval: float,
                 window: float, threshold: float, kind_defaults: dict[str, Any],
                 ) -> list[Monitor]:
        """The monitors of the list, in order, then those their plugins make; ids unique."""
        seen: dict[str, tuple[int, str]] = {}  # id -> its entry's index, its kind
        monitors = []
        derived: list[tuple[Monitor, str]] = []
        for index, entry in enumerate(entries):
            path = f"{self.list_key}[{index}]"
            monitor = self.known.get(index) or self.monitor(entry, path, interval, window,
                                                            threshold, kind_defaults)
            if monitor.id in seen:
                first, kind = seen[monitor.id]
                where = f"{self.list_key}[{first}]"
                mine = self.id_key(entry, path, monitor.kind, entries[first], where)
                its = self.id_key(entries[first], where, kind, entry, path)
                fix = "another" if "id" in entry and "id" in entries[first] else "an"
                raise self.fail(f"{path}.{mine}", f"duplicate of {where}.{its}: both make the"
                                f" id {json.dumps(monitor.id)}; give one of them {fix} \"id\"")
            seen[monitor.id] = index, monitor.kind
            monitors.append(monitor)
            if monitor.kind == SITE_KIND:
                own = self.plugins(entry, f"{path}.plugins") if "plugins" in entry else plugins
                derived += [(m, path) for m in self.plugged(monitor, own, kind_defaults)]
        made: dict[str, str] = {}  # a plugged monitor's id -> the site that made it
        for monitor, path in derived:
            if monitor.id in seen:
                where = f"{self.list_key}[{seen[monitor.id][0]}]"
                raise self.fail(f"{path}.plugins", f"makes the monitor {monitor.id!r}, the id"
                                f" of {where}: give {where} another \"id\"")
            if monitor.id in made:  # sites apart only by a final "/" (their ids end alike)
                raise self.fail(f"{path}.plugins", f"makes the monitor {monitor.id!r}, as"
                                f" {made[monitor.id]}.plugins does: give one of the two"
                                " sites an \"id\"")
            made[monitor.id] = path
            monitors.append(monitor)
        return monitors

    def id_key(self, entry: dict, path: str, kind: str, peer: dict, peer_path: str) -> str:
        """The key that made the id of `entry`, equal to that of `peer`: `id`; the old key
        that says what the monitor checks (dns: `name`); the first of the kind's keys that
        both give (http: URL; disk: path), or that it gives when the peer says it the old
        way; else `type` (cpu)."""
        if "id" in entry:
            return "id"
        if path in self.old_keys:
            return self.old_keys[path]
        return next((k for k in registry.get(kind).keys
                     if k in entry and (k in peer or peer_path in self.old_keys)), "type")

    def plugins(self, obj: dict, path: str) -> tuple[Kind, ...]:
        """`plugins`: kinds that also check every http site (or this one), each once."""
        value = obj["plugins"]
        if not isinstance(value, list):
            raise self.fail(path, "must be a list of check kinds")
        able = ", ".join(registry.on_sites())
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
                name=_plugged(site.label, kind.name), spec=parsed.spec, parent_id=site.id,
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
        if "paused" in entry:
            raise self.fail("canary.paused", "the canary cannot be paused (remove it instead)")
        for key in agent_keys.MONITOR_KEYS:
            if key in entry:
                raise self.fail(f"canary.{key}", "the canary is checked by this process only")
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
        # A kind that reads checkInterval itself (push: how often its job pushes, up to a
        # year) says how often its results come instead.
        monitor_interval = parsed.interval or self.interval(
            entry, "checkInterval", f"{path}.checkInterval", interval)
        timeout = self.duration(entry, "timeout", f"{path}.timeout",
                                min(MAX_DEFAULT_TIMEOUT, monitor_interval), MAX_SECONDS)
        ident = self.text(entry, "id", f"{path}.id") or parsed.id or f"{kind.name}:{parsed.target}"
        places = agent_keys.locations(self, entry, f"{path}.", self.agent_locations)
        if kind.watch is not None and places != (LOCAL,):
            # Pushes, pushed values and log lines reach this process: no agent sees them.
            raise self.fail(f"{path}.locations", f"a {kind.name} monitor is fed here: its"
                                                 f" only location is {LOCAL!r}")
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
            paused=self.boolean(entry, "paused", f"{path}.paused", False),
            tags=self.tags(entry, f"{path}.tags"),
            locations=places,
            quorum=agent_keys.quorum(self, entry, f"{path}.", places),
        )

    def tags(self, entry: dict, path: str) -> tuple[str, ...]:
        """`tags`: a list of labels, each once."""
        if "tags" not in entry:
            return ()
        if not isinstance(entry["tags"], list):
            raise self.fail(path, "must be a list of strings")
        found = tuple(self.text({"t": tag}, "t", f"{path}[{index}]")
                      for index, tag in enumerate(entry["tags"]))
        for index, tag in enumerate(found):
            if tag in found[:index]:
                raise self.fail(f"{path}[{index}]", f"{json.dumps(tag)} appears more than once")
        return found
