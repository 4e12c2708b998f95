"""The `disk` kind: how full the filesystem holding `path` is, as `df` shows it (used over
used plus what an unprivileged user may still write: root's reserve does not count as
free); `maxPercent` fails above, `warnPercent` warns above.

The path need not exist when the config is read (a disk mounted later): a check that does
not find it fails with the reason `path`. statvfs on a network mount that no longer
answers blocks in the kernel, past any timeout: it runs in a thread of its own, and while
it hangs, later checks of that path wait for it rather than start another."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psutil

from monitor.checks.host import base
from monitor.core import schemas
from monitor.core.deadline import Deadline
from monitor.core.fields import Fields
from monitor.core.kind import Parsed
from monitor.core.model import CheckResult, Monitor

KEYS = ("path", *base.PERCENT_KEYS)
HELP = {
    "path": ("required", "an absolute path on the filesystem to watch; it need not exist when"
                         " the config is read (a disk mounted later)"),
    **base.PERCENT_HELP,
}
SCHEMA = {"path": {**schemas.text(), "pattern": "^/"}, **base.PERCENT_SCHEMA}
REASONS = (base.REASON, "path")
MB = 1024 * 1024


@dataclass(frozen=True)
class DiskSpec:
    path: str
    limit: base.Limit


def parse(fields: Fields, entry: Mapping[str, Any], path: str,
          defaults: Mapping[str, Any]) -> Parsed:
    if "path" not in entry:
        raise fields.fail(f"{path}.path", "is required")
    where = fields.text(dict(entry), "path", f"{path}.path")
    if not os.path.isabs(where):
        raise fields.fail(f"{path}.path", "must be an absolute path")
    where = os.path.normpath(where)
    spec = DiskSpec(where, base.limit(fields, entry, path, base.DEFAULT_MAX_PERCENT))
    return Parsed(spec=spec, target=f"disk:{where}", id=f"disk:{where}")


class NoAnswer(Exception):
    """The filesystem did not answer within the check's deadline."""


class _Statvfs(threading.Thread):
    """One psutil.disk_usage(path), in a thread that may outlive its check."""

    def __init__(self, path: str) -> None:
        super().__init__(name=f"statvfs {path}", daemon=True)
        self.path = path
        self.done = threading.Event()
        self.usage: Any = None
        self.error: Exception | None = None

    def run(self) -> None:
        try:
            self.usage = psutil.disk_usage(self.path)
        except Exception as exc:  # noqa: BLE001 - the check reports it; nothing else would
            self.error = exc
        finally:
            self.done.set()


# The call in flight for each path: a check finding one still running (hung since an
# earlier check) waits for it rather than start another.
_calls: dict[str, _Statvfs] = {}
_lock = threading.Lock()


def usage(path: str, deadline: Deadline) -> Any:
    """psutil.disk_usage(path) within the deadline: NoAnswer if it does not answer."""
    with _lock:
        call = _calls.get(path)
        if call is None or call.done.is_set():  # none, or one done after its check gave up
            call = _calls[path] = _Statvfs(path)
            call.start()
    if not base.wait(call.done, deadline):
        raise NoAnswer(path)
    with _lock:
        if _calls.get(path) is call:
            del _calls[path]
    if call.error is not None:
        raise call.error
    return call.usage


def check(monitor: Monitor, deadline: Deadline, trace: list[str] | None) -> CheckResult:
    spec: DiskSpec = monitor.spec
    clock = base.Clock()
    try:
        found = usage(spec.path, deadline)
    except NoAnswer:
        return base.failed(monitor, clock, "timeout", f"disk {spec.path}: no answer from the"
                           f" filesystem within {deadline.timeout:g} s")
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        return base.failed(monitor, clock, "path", f"disk {spec.path}: {why.lower()}")
    except Exception as exc:  # noqa: BLE001 - psutil's own failure, one line
        return base.failed(monitor, clock, "other", f"disk {spec.path}: {type(exc).__name__}:"
                                                    f" {exc}")
    value = float(found.percent)
    free = found.free / MB
    if trace is not None:
        trace.append(f"filesystem of {spec.path}: total {found.total / MB:.1f} MiB, used"
                     f" {found.used / MB:.1f} MiB, free {free:.1f} MiB (to unprivileged"
                     " users)")
        trace.append(f"used: {value:.1f}% (used, of used + free: as df shows)")
    return base.judged(monitor, clock, value, f"disk {spec.path} {value:.1f}% used",
                       spec.limit, {base.METRIC: value, "free_mb": round(free, 1)})


KIND = base.kind("disk", KEYS, parse, REASONS, check, HELP, SCHEMA)
