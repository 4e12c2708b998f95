"""The alert rules' keys, at the top level (every monitor's default) and per monitor:
`alertAfter`, `recoverAfter`, `remindEvery`, `flapLimit`, `flapWindow`, `alertMinChecks`,
`maintenance`. A monitor's own value replaces the top level's, key by key."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from monitor.config import maintenance
from monitor.core import schemas
from monitor.core.fields import MAX_SECONDS, Fields
from monitor.core.rules import AlertRules

__all__ = ["HELP", "KEYS", "MAX_COUNT", "MAX_REMIND", "SCHEMA", "rules"]

KEYS = ("alertAfter", "recoverAfter", "remindEvery", "flapLimit", "flapWindow",
        "alertMinChecks", "maintenance")
MAX_COUNT = 1000  # checks: alertAfter, recoverAfter, flapLimit
MAX_MIN_CHECKS = 100_000
MAX_REMIND = 30 * 86400.0  # remindEvery: a month
HELP = {
    "alertAfter": ("none", "also needed for an alert: this many failed checks in a row (`3`),"
                           " or `{\"failures\": 3, \"of\": 5}`: at least 3 of the last 5"
                           " checks failed (1 to 1000)"),
    "recoverAfter": ("none", "also needed for a recovery: this many successful checks in a row"
                             " (1 to 1000)"),
    "remindEvery": ("none", "a duration between reminders while an alert stays open (1 s to 30"
                            " days)"),
    "flapLimit": ("none", "more changes between up and down than this within `flapWindow` is"
                          " flapping (1 to 1000)"),
    "flapWindow": ("600 s", "the duration the changes are counted over (1 s to a day)"),
    "alertMinChecks": ("1", "the fewest checks in the window before an alert: with 1, a fresh"
                            " monitor's first failure alerts at once (1 to 100000)"),
    "maintenance": ("none", "a window or a list of windows in which checks are recorded but"
                            " raise nothing"),
}

SCHEMA = {
    "alertAfter": {"anyOf": [
        schemas.integer(1, MAX_COUNT),
        schemas.obj({"failures": schemas.integer(1, MAX_COUNT),
                     "of": schemas.integer(1, MAX_COUNT)}, {}, ("failures", "of"))]},
    "recoverAfter": schemas.integer(1, MAX_COUNT),
    "remindEvery": schemas.duration(MAX_REMIND, 1.0),
    "flapLimit": schemas.integer(1, MAX_COUNT),
    "flapWindow": schemas.duration(MAX_SECONDS, 1.0),
    "alertMinChecks": schemas.integer(1, MAX_MIN_CHECKS),
    "maintenance": maintenance.SCHEMA,
}


def rules(fields: Fields, obj: dict, prefix: str, defaults: AlertRules) -> AlertRules:
    """The rules `obj` gives (`prefix`: its JSON path and a dot, or "" at the top level),
    the others from `defaults`."""
    changes: dict[str, Any] = {}
    if "alertAfter" in obj:
        changes["alert_after"] = _alert_after(fields, obj["alertAfter"], f"{prefix}alertAfter")
    if "recoverAfter" in obj:
        changes["recover_after"] = fields.integer(obj, "recoverAfter", f"{prefix}recoverAfter",
                                                  1, MAX_COUNT)
    if "remindEvery" in obj:
        changes["remind_every"] = fields.duration(obj, "remindEvery", f"{prefix}remindEvery",
                                                  0.0, MAX_REMIND, least=1.0)
    if "flapLimit" in obj:
        changes["flap_limit"] = fields.integer(obj, "flapLimit", f"{prefix}flapLimit", 1,
                                               MAX_COUNT)
    if "flapWindow" in obj:
        changes["flap_window"] = fields.duration(obj, "flapWindow", f"{prefix}flapWindow",
                                                 0.0, MAX_SECONDS, least=1.0)
    if "alertMinChecks" in obj:
        changes["min_checks"] = fields.integer(obj, "alertMinChecks",
                                               f"{prefix}alertMinChecks", 1, MAX_MIN_CHECKS)
    if "maintenance" in obj:
        changes["maintenance"] = maintenance.parse(fields, obj, f"{prefix}maintenance") or ()
    return replace(defaults, **changes) if changes else defaults


def _alert_after(fields: Fields, value: Any, path: str) -> tuple[int, int]:
    """A number of failed checks in a row, or {"failures": F, "of": M}: F of the last M."""
    if isinstance(value, dict):
        fields.check_keys(value, ("failures", "of"), f"{path}.")
        for key in ("failures", "of"):
            if key not in value:
                raise fields.fail(f"{path}.{key}", "is required")
        failures = fields.integer(value, "failures", f"{path}.failures", 1, MAX_COUNT)
        of = fields.integer(value, "of", f"{path}.of", 1, MAX_COUNT)
        if failures > of:
            raise fields.fail(f"{path}.failures", f"must be at most \"of\" ({of})")
        return failures, of
    if not isinstance(value, int) or isinstance(value, bool):
        raise fields.fail(path, "must be a whole number of failed checks in a row, or"
                                " {\"failures\": N, \"of\": M}")
    count = fields.integer({"n": value}, "n", path, 1, MAX_COUNT)
    return count, count
