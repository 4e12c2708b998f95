"""A monitor's alert rules, as the config gives them (monitor.config.rules reads them) and
the alert evaluator (monitor.alerts) applies them."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.core.windows import Window


@dataclass(frozen=True)
class AlertRules:
    """A monitor's alert rules beyond its window (`alertWindow`, `alertThreshold`). The
    defaults are the window rule alone: every alert and recovery where it always was."""

    # `alertAfter`: at least `failures` of the last `of` checks failed (3 in a row: (3, 3)).
    alert_after: tuple[int, int] | None = None
    recover_after: int | None = None  # `recoverAfter`: this many successes in a row
    remind_every: float | None = None  # `remindEvery`: seconds between reminders
    flap_limit: int | None = None  # `flapLimit`: more state changes than this is flapping
    flap_window: float = 600.0  # `flapWindow`: ... within these seconds
    min_checks: int = 1  # `alertMinChecks`: checks in the window before an alert
    maintenance: tuple[Window, ...] = ()  # `maintenance`: one-off or recurring windows

    @property
    def history(self) -> int:
        """How many of the latest verdicts the rules look at."""
        counts = [2]  # the previous verdict tells a state change
        if self.alert_after is not None:
            counts.append(self.alert_after[1])
        if self.recover_after is not None:
            counts.append(self.recover_after)
        return max(counts)
