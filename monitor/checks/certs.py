"""Certificate expiry, shared by the kinds that see a certificate (http over TLS, tls):
the keys `tlsMinDaysLeft` (warn below, default 14) and `tlsFailDaysLeft` (fail below,
default 0), and the verdict on the days left of the certificate a check saw."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from monitor.core import schemas
from monitor.core.fields import Fields

KEYS = ("tlsMinDaysLeft", "tlsFailDaysLeft")
DEFAULT_MIN_DAYS = 14.0
DEFAULT_FAIL_DAYS = 0.0
MAX_DAYS = 3650.0
HELP = {
    "tlsMinDaysLeft": ("14", "fewer days left than this on the certificate is a warning,"
                             " reason `tls_expiry` (0 to 3650)"),
    "tlsFailDaysLeft": ("0", "fewer days left than this is a failure, reason `tls_expiry`"
                             " (0 to 3650, at most `tlsMinDaysLeft`; 0: expired)"),
}
SCHEMA = {key: schemas.number(0.0, MAX_DAYS) for key in KEYS}
REASON = "tls_expiry"  # a warning below tlsMinDaysLeft, a failure below tlsFailDaysLeft
METRIC = "cert_days"  # the days left of the certificate seen, recorded with every check


@dataclass(frozen=True)
class Expiry:
    min_days: float = DEFAULT_MIN_DAYS
    fail_days: float = DEFAULT_FAIL_DAYS

    def verdict(self, days_left: float) -> tuple[str, str] | None:
        """None when the certificate is fine, else ("down" or "warning", detail)."""
        if days_left < self.fail_days:
            if days_left < 0:
                return "down", f"certificate expired {-days_left:.1f} days ago"
            return "down", (f"certificate expires in {days_left:.1f} days"
                            f" (tlsFailDaysLeft {self.fail_days:g})")
        if days_left < self.min_days:
            return "warning", (f"certificate expires in {days_left:.1f} days"
                               f" (tlsMinDaysLeft {self.min_days:g})")
        return None


def parse(fields: Fields, entry: Mapping[str, Any], path: str,
          defaults: Mapping[str, Any]) -> Expiry:
    """The entry's own keys, else the top-level defaults, else 14 and 0."""
    prefix = f"{path}." if path else ""
    low = fields.number(dict(entry), "tlsFailDaysLeft", f"{prefix}tlsFailDaysLeft",
                        defaults.get("tlsFailDaysLeft", DEFAULT_FAIL_DAYS), 0.0, MAX_DAYS)
    high = fields.number(dict(entry), "tlsMinDaysLeft", f"{prefix}tlsMinDaysLeft",
                         defaults.get("tlsMinDaysLeft", DEFAULT_MIN_DAYS), 0.0, MAX_DAYS)
    if low > high:
        where = "tlsFailDaysLeft" if "tlsFailDaysLeft" in entry else "tlsMinDaysLeft"
        raise fields.fail(f"{prefix}{where}", f"tlsFailDaysLeft ({low:g}) must not be above"
                                              f" tlsMinDaysLeft ({high:g})")
    return Expiry(high, low)


def defaults(fields: Fields, document: Mapping[str, Any]) -> dict[str, Any]:
    """The two keys at the top level: every monitor's default."""
    expiry = parse(fields, document, "", {})
    return {"tlsMinDaysLeft": expiry.min_days, "tlsFailDaysLeft": expiry.fail_days}


def days_left(not_after: datetime.datetime, now: datetime.datetime | None = None) -> float:
    """Days from `now` (UTC) to a certificate's notAfter (aware, or naive UTC)."""
    if not_after.tzinfo is None:
        not_after = not_after.replace(tzinfo=datetime.UTC)
    now = now or datetime.datetime.now(datetime.UTC)
    return (not_after - now).total_seconds() / 86400.0
