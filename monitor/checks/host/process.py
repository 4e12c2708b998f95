"""The `process` kind: how many processes run by the exact name `process`, or whose
command line matches the regular expression `match`; fewer than `min` (default 1) or more
than `max` (optional) is down. `name` is the display name only; written without `process`
and `match`, it is the process name (the old spelling, accepted with a warning).

Zombies (exited, not yet reaped) do not count, nor does the monitor itself (a `match` on a
word of its own command line): this process, and, with probe processes, the monitor's
main process and each of its probe processes. A process whose command line is empty (a
kernel thread) never matches `match`."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psutil

from monitor.checks.host import base
from monitor.core import schemas, secrets
from monitor.core.deadline import Deadline
from monitor.core.fields import Fields
from monitor.core.kind import Parsed
from monitor.core.model import CheckResult, Monitor

# `process` and `match` first: the keys an error about a monitor's id names.
KEYS = ("process", "match", "min", "max")
OLD_SPELLING = ('process: "name" as the process name to match is deprecated; put it in'
                ' "process" ("name" is then only the label)')
REASONS = ("process",)
MOST = 1_000_000  # min and max: beyond any process table
HELP = {
    "process": ("this or `match`", "the exact process name (`nginx`; for a script, its"
                                   " interpreter's: use `match`)"),
    "match": ("this or `process`", "a regular expression (Python's) searched in the command"
                                   " line, its arguments joined by spaces"),
    "min": ("1", "fewer processes than this is down (0 when `max` is 0 alone); a whole number"
                 " from 0 to 1000000"),
    "max": ("none", "more processes than this is down; `0`: must not run"),
}
SCHEMA = {"process": schemas.text(), "match": schemas.regex(),
          "min": schemas.integer(0, MOST), "max": schemas.integer(0, MOST)}
SHOWN = 10  # processes listed in a trace
SHOWN_CHARS = 100  # of each command line
PROBE_MODULE = "monitor.run.probes"  # a probe process is `python -m monitor.run.probes FD`


@dataclass(frozen=True)
class ProcessSpec:
    name: str | None  # the exact process name, or
    match: re.Pattern[str] | None  # searched in the command line (arguments joined by spaces)
    least: int
    most: int | None

    @property
    def label(self) -> str:
        """How a failure's detail names what it counts: `nginx`, or `match /worker \\d+/`."""
        if self.match is not None:
            return f"match /{self.match.pattern}/"
        return str(self.name)

    @property
    def which(self) -> str:
        """How the trace says which processes count."""
        if self.match is not None:
            return f"with a command line matching /{self.match.pattern}/"
        return f"named {self.name}"


def _count(fields: Fields, entry: Mapping[str, Any], key: str, path: str) -> int | None:
    if key not in entry:
        return None
    value = entry[key]
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MOST:
        raise fields.fail(f"{path}.{key}", f"must be a whole number from 0 to {MOST}")
    return value


def parse(fields: Fields, entry: Mapping[str, Any], path: str,
          defaults: Mapping[str, Any]) -> Parsed:
    obj = dict(entry)
    if "process" in obj and "match" in obj:
        raise fields.fail(f"{path}.match", "give either process (the exact process name) or"
                                           " match (a regular expression), not both")
    # Written the old way, `name` alone is the process name (and the display name).
    old = "name" in obj and "process" not in obj and "match" not in obj
    key = "name" if old else "process"
    if key not in obj and "match" not in obj:
        raise fields.fail(f"{path}.process", "is required (the exact process name), or match"
                                             " (a regular expression on the command line)")
    name = fields.text(obj, key, f"{path}.{key}") or None
    match = fields.regex(obj, "match", f"{path}.match")
    if match is not None and not match.pattern.isprintable():
        raise fields.fail(f"{path}.match", "must not contain control characters")
    most = _count(fields, obj, "max", path)
    least = _count(fields, obj, "min", path)
    if least is None:  # {"max": 0} alone: the process must not run
        least = min(1, most) if most is not None else 1
    if most is not None and least > most:
        raise fields.fail(f"{path}.min", f"min ({least}) must not be above max ({most})")
    if old:
        fields.deprecated(path, key, OLD_SPELLING)
    spec = ProcessSpec(name, match, least, most)
    target = f"process:{name}" if match is None else f"process~{match.pattern}"
    return Parsed(spec=spec, target=target, id=target)


_NAME = re.compile(r"-{0,2}[A-Za-z0-9_.-]+")  # an option's or a variable's name
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s]+")


def _shown_url(match: re.Match[str]) -> str:
    try:
        return secrets.display_url(match.group(0))
    except ValueError:  # not a URL after all (a bad port): nothing of it is shown
        return secrets.MASK


def _shown_word(previous: str, word: str) -> str:
    key, equals, value = word.partition("=")
    if equals and value and _NAME.fullmatch(key) and secrets.is_sensitive(key.lstrip("-")):
        return f"{key}={secrets.MASK}"  # --password=x, TOKEN=x
    if (previous.startswith("-") and "=" not in previous
            and secrets.is_sensitive(previous.lstrip("-"))):
        return secrets.MASK  # --token x
    return _URL.sub(_shown_url, word)  # https://user:pw@host/, ?key=x


def shown_command(argv: list[str] | None) -> str:
    """A command line for the trace: credentials in URLs and the values of arguments named
    like secrets masked, shortened to SHOWN_CHARS."""
    words = list(argv or ())
    text = " ".join(_shown_word(words[i - 1] if i else "", word)
                    for i, word in enumerate(words))
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS - 3] + "..."


def is_probe(cmdline: Sequence[str] | None) -> bool:
    """Whether a command line is one of the monitor's probe processes'."""
    words = list(cmdline or ())
    return any(words[i] == "-m" and words[i + 1] == PROBE_MODULE
               for i in range(len(words) - 1))


def monitor_head(argv: Sequence[str] | None = None, pid: int | None = None,
                 ppid: int | None = None) -> int:
    """The pid of the monitor's main process: the parent when this process is a probe
    process (by its own command line, `argv`), else this one. A probe whose parent is
    gone (its parent is then init, pid 1) is its own head: it exits at once anyway."""
    pid = os.getpid() if pid is None else pid
    ppid = os.getppid() if ppid is None else ppid
    probe = is_probe(sys.orig_argv if argv is None else argv)
    return ppid if probe and ppid > 1 else pid


def _one_of_ours(proc: psutil.Process, info: Mapping[str, Any], head: int) -> bool:
    """Whether `proc`, a child of the monitor's main process, is one of its probes."""
    if info["ppid"] != head:
        return False
    cmdline = info.get("cmdline")
    if cmdline is None:  # not read for a `name` check: read for the head's children only
        try:
            cmdline = proc.cmdline()
        except psutil.Error:
            return False
    return is_probe(cmdline)


def check(monitor: Monitor, deadline: Deadline, trace: list[str] | None) -> CheckResult:
    spec: ProcessSpec = monitor.spec
    clock = base.Clock()
    # Read for every process: the name is one file, the command line another; the parent
    # comes with the status, from one file.
    attrs = ["name", "status", "ppid"] if spec.name is not None else \
        ["cmdline", "status", "ppid"]
    if trace is not None:
        attrs = ["name", "cmdline", "status", "ppid"]
    me, head = os.getpid(), monitor_head()
    found: list[tuple[int, Mapping[str, Any]]] = []
    seen = 0
    try:
        for proc in psutil.process_iter(attrs):
            if deadline.aborted or deadline.remaining() <= 0:
                return base.failed(monitor, clock, "timeout", f"{spec.label}: {seen} processes"
                                   f" listed within {deadline.timeout:g} s, not all")
            seen += 1
            info = proc.info
            if proc.pid in (me, head) or info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if spec.name is not None and info["name"] != spec.name:
                continue
            if spec.match is not None:
                line = " ".join(info["cmdline"] or ())
                if not line or not spec.match.search(line):
                    continue
            if _one_of_ours(proc, info, head):
                continue
            found.append((proc.pid, info))
    except (psutil.Error, OSError) as exc:  # no /proc, say
        return base.failed(monitor, clock, "other", f"cannot list processes: {exc}")
    count = len(found)
    if trace is not None:
        trace.append(f"{seen} processes listed, {count} {spec.which} (zombies and the"
                     " monitor itself not counted)")
        for pid, shown in found[:SHOWN]:
            trace.append(f"  pid {pid} {shown['name']}: {shown_command(shown['cmdline'])}")
        if count > SHOWN:
            trace.append(f"  ... and {count - SHOWN} more")
        bounds = f"min {spec.least}" + (f", max {spec.most}" if spec.most is not None else "")
        trace.append(f"running: {count} ({bounds})")
    metrics = {base.METRIC: float(count)}
    if count < spec.least:
        return base.failed(monitor, clock, "process",
                           f"{spec.label}: {count} running, min {spec.least}", metrics)
    if spec.most is not None and count > spec.most:
        return base.failed(monitor, clock, "process",
                           f"{spec.label}: {count} running, max {spec.most}", metrics)
    return CheckResult(monitor.id, clock.started, True, None, clock.ms(), mono=clock.mono,
                       metrics=metrics)


KIND = base.kind("process", KEYS, parse, REASONS, check, HELP, SCHEMA)
