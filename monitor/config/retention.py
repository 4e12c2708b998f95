"""How long the database keeps each tier of history: `retention` in config.json, and the
older `retentionDays`.

    "retention": {"checks": "30d", "minutes": "90d", "hours": "730d", "days": null}

`checks`: raw checks (and alerts: each monitor's latest stay); `minutes`: the aggregates of
minutes and 10-minute blocks; `hours`, `days`: the rollups. A duration in the config's forms
(a number of seconds, or "90s", "5m", "1h", "7d"), or null: kept for ever. A coarser tier is
kept at least as long as a finer one (a long range is read from the coarsest tier, its
edges from the finer ones). Keys not given take their defaults (DEFAULTS), moved within
what the given ones allow. `retentionDays: N` alone keeps every tier N days, as it always
did; with `retention` it is the raw checks' and must agree with `retention.checks`.
Neither given: the defaults, which keep the database bounded and the days for ever.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monitor.core import schemas
from monitor.core.fields import Fields
from monitor.core.timefmt import format_seconds

DAY = 86400.0
TIERS = ("checks", "minutes", "hours", "days")
# The aggregate spans each tier holds (`checks` holds the raw rows).
SPANS = {"minutes": (60, 600), "hours": (3600,), "days": (86400,)}
DEFAULTS: dict[str, float | None] = {"checks": 30 * DAY, "minutes": 90 * DAY,
                                     "hours": 730 * DAY, "days": None}
LEAST = DAY  # alerts restore from a day of raw checks; reports read the last day's minutes
MOST = 36500 * DAY  # as retentionDays: the purge's cut-off must be a representable date

HELP = {
    "retention": ("checks `30d`, minutes `90d`, hours `730d`, days `null`",
                  "how long the history is kept, per tier: an object with `checks` (raw"
                  " checks and alerts), `minutes` (minute and 10-minute aggregates),"
                  " `hours`, `days`, each a duration of at least a day (`\"90d\"`) or"
                  " `null` (for ever); a coarser tier at least as long as a finer one;"
                  " purged hourly while monitoring"),
}


TIER_HELP = {
    "checks": ("`30d`", "raw checks, and alerts (each monitor's latest stay)"),
    "minutes": ("`90d`", "the aggregates of minutes and 10-minute blocks"),
    "hours": ("`730d`", "the hourly rollups"),
    "days": ("`null`", "the daily rollups and the uptime per day"),
}
_TIER = {"anyOf": [schemas.duration(MOST, LEAST), {"type": "null"}]}
SCHEMA = {"retention": schemas.obj(dict.fromkeys(TIERS, _TIER), TIER_HELP)}


@dataclass(frozen=True)
class Retention:
    """Seconds each tier is kept; None: for ever."""

    checks: float | None = DEFAULTS["checks"]
    minutes: float | None = DEFAULTS["minutes"]
    hours: float | None = DEFAULTS["hours"]
    days: float | None = DEFAULTS["days"]

    @classmethod
    def every(cls, seconds: float) -> Retention:
        """Every tier kept as long (`retentionDays`)."""
        return cls(seconds, seconds, seconds, seconds)

    def cutoffs(self, now: float) -> tuple[float, dict[int, float | None]]:
        """What a purge at `now` deletes: raw checks and alerts before the first, each
        aggregate span's rows before its cut-off (None: none of them)."""
        tiers = {span: None if (kept := getattr(self, tier)) is None else now - kept
                 for tier, spans in SPANS.items() for span in spans}
        return (0.0 if self.checks is None else now - self.checks), tiers


def _given(fields: Fields, obj: dict[str, Any], key: str) -> float | None:
    """A tier's duration (None: for ever)."""
    if obj[key] is None:
        return None
    return fields.duration(obj, key, f"retention.{key}", 0.0, MOST, LEAST)


def _longest(values: list[float | None]) -> float | None:
    return None if None in values else max(values, default=0.0)  # type: ignore[type-var]


def _shortest(values: list[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return min(known) if known else None


def _shown(seconds: float | None) -> str:
    return "null (for ever)" if seconds is None else f'"{format_seconds(seconds)}"'


def retention(fields: Fields, doc: dict[str, Any], days: float | None) -> Retention:
    """The retention of a config document, `days` its `retentionDays` (None: not given)."""
    if "retention" not in doc:
        return Retention() if days is None else Retention.every(days * DAY)
    obj = doc["retention"]
    if not isinstance(obj, dict):
        raise fields.fail("retention", 'must be an object: {"checks": "30d", "minutes":'
                                       ' "90d", "hours": "730d", "days": null}')
    fields.check_keys(obj, TIERS, "retention.")
    given = {key: _given(fields, obj, key) for key in TIERS if key in obj}
    if days is not None:
        if "checks" in given and given["checks"] != days * DAY:
            raise fields.fail("retention.checks", f"is {_shown(given['checks'])} but"
                              f" retentionDays says {days:g} days: give one of them")
        given["checks"] = days * DAY
    # Each given tier at least as long as the finer ones given (None, for ever, longest).
    for i, key in enumerate(TIERS):
        for finer in TIERS[:i]:
            if key in given and finer in given and _longer(given[finer], given[key]):
                name = "retentionDays" if finer == "checks" and "checks" not in obj else (
                    f"retention.{finer}")
                raise fields.fail(f"retention.{key}", f"is {_shown(given[key])}, shorter"
                                  f" than {name} ({_shown(given[finer])}): a coarser tier"
                                  " is kept at least as long as a finer one")
    kept: dict[str, float | None] = {}
    for i, key in enumerate(TIERS):
        if key in given:
            kept[key] = given[key]
            continue
        # A default within what the given tiers allow: no shorter than a finer one given,
        # no longer than a coarser one.
        value = DEFAULTS[key]
        finer_kept = [kept[k] for k in TIERS[:i]]
        coarser = [given[k] for k in TIERS[i + 1:] if k in given]
        if _longer(_longest(finer_kept), value):
            value = _longest(finer_kept)
        if coarser and _longer(value, _shortest(coarser)):
            value = _shortest(coarser)
        kept[key] = value
    return Retention(**kept)


def _longer(a: float | None, b: float | None) -> bool:
    """Whether `a` keeps longer than `b` (None: for ever)."""
    return a is None and b is not None or (a is not None and b is not None and a > b)
