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
from monitor.checks.execute import run_check
from monitor.checks.registry import register
from monitor.checks.watchdog import Watchdog
from monitor.core.deadline import Deadline
from monitor.core.kind import Kind, Parsed
from monitor.core.model import COMMON_REASONS, CheckAborted, CheckResult, Monitor

__all__ = ["COMMON_REASONS", "CheckAborted", "CheckResult", "Deadline", "Kind", "Monitor",
           "Parsed", "Watchdog", "content", "dns", "host", "http", "log", "register", "registry",
           "run_check", "tcp", "tls"]
