"""Check kinds: what a monitor and a check result are, the registry of kinds, and the
kinds themselves (each a module that registers itself)."""

# The kinds built in: each registers itself on import.
from monitor.checks import (
           content,
           dns,
           host,
           http,  # noqa: E402,I001 - after the registry it registers with
           log,
           registry,
           tcp,
           tls,
)
from monitor.checks.deadline import Deadline, Watchdog
from monitor.checks.execute import run_check
from monitor.checks.model import COMMON_REASONS, CheckAborted, CheckResult, Kind, Monitor, Parsed
from monitor.checks.registry import register

__all__ = ["COMMON_REASONS", "CheckAborted", "CheckResult", "Deadline", "Kind", "Monitor",
           "Parsed", "Watchdog", "content", "dns", "host", "http", "log", "register", "registry",
           "run_check", "tcp", "tls"]
