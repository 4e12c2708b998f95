"""Check kinds: what a check is, the registry of kinds, and the kinds themselves."""

from monitor.checks.deadline import (
    REASONS,
    CheckAborted,
    CheckResult,
    Deadline,
    Watchdog,
    check_function,
    register,
    run_check,
)

__all__ = ["REASONS", "CheckAborted", "CheckResult", "Deadline", "Watchdog", "check_function",
           "register", "run_check"]
