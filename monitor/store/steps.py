"""The steps of a writer's batch after its rows are written (summing the metric figures,
rolling up the hours): each guarded, so that one that fails keeps none of those after it
from happening. A value a step cannot take once jammed every batch from then on: its
alerts never announced, its flushes answered False."""

from __future__ import annotations

from collections.abc import Callable


class Steps:
    """Runs the steps; a failure rolls back what the step left open, is said once (until
    the step works again), and its `give_up` drops what would make it fail again."""

    def __init__(self, path: object, say: Callable[[str], None],
                 rollback: Callable[[], None]) -> None:
        self._path = path
        self._say = say
        self._rollback = rollback
        self._failing: set[str] = set()  # the steps whose last run failed

    def run(self, name: str, step: Callable[[], None],
            give_up: Callable[[], None] | None = None) -> bool:
        """Run `step`, named in the message as "NAME failed"; False if it failed."""
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - a bug or a value it cannot take
            self._rollback()
            if give_up is not None:
                give_up()
            if name not in self._failing:
                self._failing.add(name)
                dropped = "; its figures so far are dropped" if give_up is not None else ""
                self._say(f"{self._path}: {name} failed ({exc!r}){dropped}; the checks and"
                          " alerts are written all the same")
            return False
        self._failing.discard(name)
        return True
