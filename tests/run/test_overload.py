"""Overload said within one window, once, and its end once it has been clear for a whole
window: on an injected clock (monitor/run/overload.py)."""

from __future__ import annotations

from monitor.run.overload import LAG_LIMIT, WINDOW, Counts, Overload


def run(steps: list[tuple[float, Counts]], cores: int = 2,
        ) -> tuple[list[str], list[str | None]]:
    said: list[str] = []
    overload = Overload(said.append, cores)
    statuses = []
    for now, counts in steps:
        overload.step(now, counts)
        statuses.append(overload.status)
    return said, statuses


def test_a_monitor_that_keeps_up_says_nothing() -> None:
    said, statuses = run([(t * 0.25, Counts(1000 * t, 0, 0, 0, 0.4)) for t in range(200)])
    assert said == [] and set(statuses) == {None}


def test_skipped_slots_are_said_once_with_rates_and_the_end_once() -> None:
    steps = []
    checks = shed = 0
    for tick in range(400):  # 100 s at 4 steps a second
        now = tick * 0.25
        overloaded = 20.0 <= now < 50.0
        checks += 500  # 2,000 checks/s made
        shed += 250 if overloaded else 0  # 1,000 slots/s skipped
        steps.append((now, Counts(checks, 0, shed, 0, 0.2)))
    said, statuses = run(steps)
    assert len(said) == 2
    assert said[0].startswith("Warning: overloaded: 1000 checks/s skipped (due 3000/s,"
                              " made 2000/s) over the past 2 s.")
    assert "skipped and counted, not queued" in said[0]
    # Shown once the skips pass 5% of the slots due in the window, said two seconds after
    # they began, with the rates since then.
    first = statuses.index(next(s for s in statuses if s))
    assert steps[first][0] == 21.0
    assert statuses[first] is not None and statuses[first].startswith("OVERLOADED: ")
    assert said[1] == ("No longer overloaded (for 30 s: 30000 slots skipped and 0 checks"
                       " dropped in all).")
    # Said once the window has held too few for a whole window.
    end = statuses.index(None, first)
    assert 49.75 + WINDOW < steps[end][0] <= 49.75 + 2 * WINDOW


def test_a_writer_behind_or_dropping_is_overload_too() -> None:
    said, _ = run([(0.0, Counts(0, 0, 0, 0, 0.0)), (1.0, Counts(100, 0, 0, 0, LAG_LIMIT + 1)),
                   (3.0, Counts(300, 0, 0, 0, LAG_LIMIT + 3))])
    assert len(said) == 1 and "the writer 8 s behind" in said[0]
    said, _ = run([(0.0, Counts(0, 0, 0, 0, 0.0)), (2.0, Counts(100, 0, 0, 50, 0.0))])
    assert len(said) == 1 and "25 checks/s dropped by the writer" in said[0]


def test_a_blip_shorter_than_the_confirmation_is_not_said() -> None:
    steps = [(t * 0.25, Counts(100 * t, 0, 100 if t >= 8 else 0, 0, 0.0)) for t in range(120)]
    said, statuses = run(steps)
    assert said == []  # 100 slots skipped once: shown in the header for a window, not said
    assert statuses[8] is not None and statuses[-1] is None


def test_checks_past_their_slot_on_a_saturated_cpu_are_overload() -> None:
    # 2,000 checks/s made, 1,000 slots/s run past (rows stored as the check's verdict):
    # a slow target with an idle CPU, or the probes reading answers late on a busy one.
    def steps(busy: float) -> list[tuple[float, Counts]]:
        return [(t * 0.25, Counts(500 * t, 250 * t, 0, 0, 0.0, busy * 2 * t * 0.25))
                for t in range(40)]
    said, _ = run(steps(0.5))
    assert said == []
    said, _ = run(steps(0.95))
    assert len(said) == 1 and said[0].startswith(
        "Warning: overloaded: 1000 checks/s ran past their next slot with the CPU 95% busy")
