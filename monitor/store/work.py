"""A batch's commands told apart, apart from any database: `sort` puts each command of a
batch (monitor.store.api) in its place in a Work, which both stores' writers then write in
one transaction; `flatten` cuts the lists of checks into rows (a bad row found among them
costs that row alone); `is_data` tells the rows kept while the database refuses from the
control commands; `skip_stored` takes the rows an agent resent out of a batch."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from monitor.core.model import CheckResult
from monitor.store.api import (
    KEY_FIELD,
    Ack,
    AgentSeen,
    AlertRecord,
    CheckBatch,
    Command,
    Delivery,
    DeliveryDone,
    Flush,
    Purge,
    RecordPush,
    RecordSeries,
    SetMaintenance,
    SetMonitors,
    Stop,
)


@dataclass(slots=True)
class Work:
    """A batch's commands by type, in their order within each type."""

    checks: list[CheckResult] = field(default_factory=list)
    # Agents' batches: (where their rows start in `checks`, the batch).
    marked: list[tuple[int, CheckBatch]] = field(default_factory=list)
    skipped: int = 0  # rows of agents' batches stored already (resent): not written again
    alerts: list[AlertRecord] = field(default_factory=list)
    monitor_sets: list[SetMonitors] = field(default_factory=list)
    maintenance: list[SetMaintenance] = field(default_factory=list)
    deliveries: list[DeliveryDone] = field(default_factory=list)
    pushes: list[RecordPush] = field(default_factory=list)
    series: list[RecordSeries] = field(default_factory=list)
    acks: list[Ack] = field(default_factory=list)
    seen: list[AgentSeen] = field(default_factory=list)
    purges: list[Purge] = field(default_factory=list)
    flushes: list[Flush] = field(default_factory=list)
    stop: bool = False


def sort(commands: Iterable[Command]) -> Work:
    """The one place commands are told apart."""
    work = Work()
    for command in commands:
        match command:
            case CheckResult():
                work.checks.append(command)
            case CheckBatch():
                if command.mark is not None:
                    work.marked.append((len(work.checks), command))
                work.checks.extend(command)
            case AlertRecord():
                work.alerts.append(command)
            case SetMonitors():
                work.monitor_sets.append(command)
            case DeliveryDone():
                work.deliveries.append(command)
            case SetMaintenance():
                work.maintenance.append(command)
            case RecordPush():
                work.pushes.append(command)
            case RecordSeries():
                work.series.append(command)
            case Ack():
                work.acks.append(command)
            case AgentSeen():
                work.seen.append(command)
            case Purge():
                work.purges.append(command)
            case Flush():
                work.flushes.append(command)
            case Stop():
                work.stop = True
            case _:
                raise TypeError(f"not a store command: {command!r}")
    return work


def flatten(commands: Iterable[Command], split: bool = False) -> list[Command]:
    """The commands with each list of checks (put_checks's) as its checks; an agent's
    batch (with a mark) kept whole, or with `split` cut into one batch per row (each
    marked with its row's id when the mark has ids) and then its mark alone: a bad row
    found among them costs that row alone, and the mark still goes past it."""
    out: list[Command] = []
    for command in commands:
        if not isinstance(command, CheckBatch):
            out.append(command)
        elif command.mark is None:
            out.extend(command)
        elif not split:
            out.append(command)
        else:
            mark = command.mark
            for index, row in enumerate(command):
                one = (replace(mark, upto=mark.ids[index], ids=mark.ids[index:index + 1])
                       if mark.ids else None)
                out.append(row if one is None else CheckBatch((row,), one))
            out.append(CheckBatch((), replace(mark, ids=())))
    return out


def is_data(command: Command) -> bool:
    """Data to write (kept and retried while the database refuses), not a control command."""
    return not isinstance(command, Purge | Flush | Stop)


def skip_stored(work: Work, stored: Callable[[tuple[str, str]], int],
                mark: Callable[[tuple[str, str], int, str], object]) -> None:
    """The agents' marks written through `mark(key, upto, location)`, and their rows stored
    already (a resend) taken out of `work.checks`: each row is stored once, with its mark.
    `stored(key)` reads the upto an agent's (name, instance) has in the database, once."""
    upto: dict[tuple[str, str], int] = {}
    drop: set[int] = set()
    for start, batch in work.marked:
        agent = batch.mark
        assert agent is not None
        key = (agent.name, agent.instance)
        if key not in upto:
            upto[key] = stored(key)
        known = upto[key]
        if agent.ids:
            drop.update(start + i for i, ident in enumerate(agent.ids) if ident <= known)
        elif agent.upto <= known:
            drop.update(range(start, start + len(batch)))
        upto[key] = max(known, agent.upto)
        mark(key, agent.upto, agent.location)
    if drop:
        work.checks = [c for i, c in enumerate(work.checks) if i not in drop]
        work.skipped = len(drop)


def outbox_rows(alert: int, deliveries: Sequence[Delivery], now: float) -> list[tuple]:
    """An alert's notifications as outbox rows (alert, key, provider, event, title, body,
    created): each keyed by the alert's id and its provider, the key put in its texts."""
    rows = []
    for d in deliveries:
        key = f"{alert}:{d.provider}"
        rows.append((alert, key, d.provider, d.event, d.title.replace(KEY_FIELD, key),
                     d.body.replace(KEY_FIELD, key), now))
    return rows
