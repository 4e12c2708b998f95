"""What the content kind measures of a page, and how it judges it: the page's tags counted
by name and its size in bytes, each compared with the values of the checks before, in
standard deviations. Pure: no fetching, no clock, no module state (the History of one
monitor is an object its owner keeps).

The floors: a page that never changed has a standard deviation of 0, and one extra tag
would be infinitely many deviations away. So the deviation is measured against
sigma = max(stdev, floor):
- a tag count's floor is max(1, 5% of its mean): with maxDeviation 3, a steady count must
  move by more than 3 tags (small counts) or 15% (large ones) to warn, so one more <div>
  or a comment box's extra <p> never does, and 4 <script>s becoming 19 does;
- the size's floor is max(64 bytes, 2% of its mean): a steady page must grow or shrink by
  more than 6% (at least 192 bytes) to warn, so a changing date or token does not.
A page that varies by nature (a news list) has a real deviation above the floor, and is
judged by it.
"""

from __future__ import annotations

import math
import threading
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import attrgetter

from selectolax.lexbor import LexborHTMLParser, SelectolaxError

MIN_HISTORY = 5  # values kept before a page is judged (fewer if `history` is smaller)
MAX_NAMES = 256  # tag names counted per page; the least frequent beyond are summed as OTHER
NAME_MOST = 64  # characters of a tag name kept (a parser accepts a 5,000-character name)
OTHER = "(other)"  # the tags beyond MAX_NAMES: no tag has this name (parentheses)
SIZE = "size"  # the size's entry among the changes
COUNT_FLOOR, COUNT_FLOOR_SHARE = 1.0, 0.05
SIZE_FLOOR, SIZE_FLOOR_SHARE = 64.0, 0.02
SHOWN_CHANGES = 3  # changes named in a check's detail; the rest are counted


@dataclass(frozen=True)
class Page:
    """One page as measured: its tags by name, its size in bytes, and the tags in all."""

    counts: dict[str, int]
    size: int

    @property
    def tags(self) -> int:
        return sum(self.counts.values())


class Unreadable(Exception):
    """The parser refused the page (lexbor takes any bytes as HTML, as browsers do, so
    this is its own failure: out of memory)."""


def measure(body: bytes, ignore: Iterable[str] = ()) -> Page:
    """The page's elements counted by tag name (lower case for HTML; comments, text and
    the doctype are not elements), leaving out the names in `ignore` (lower case).
    Raise Unreadable if the parser fails."""
    skip = frozenset(ignore)
    try:
        root = LexborHTMLParser(body).root
    except SelectolaxError as exc:
        raise Unreadable(str(exc)) from None
    # `tag` makes a string per node, a good part of the time (docs/performance.md).
    # `tag_id` would save most of that, but the ids of custom elements (<my-widget>) are
    # per-document pointers, and naming them would take another pass in Python. The parse
    # itself runs without the GIL; this count holds it.
    found = Counter(map(attrgetter("tag"), root.traverse())) if root is not None else Counter()
    counts: dict[str, int] = {}
    for name, count in found.items():
        if not name or name.startswith("-") or name.lower() in skip:
            continue  # "-comment", "-text": not elements
        name = name[:NAME_MOST]
        counts[name] = counts.get(name, 0) + count
    if len(counts) > MAX_NAMES:
        # A page of thousands of made-up tag names: the history of one must stay small.
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        counts = dict(ranked[:MAX_NAMES - 1])
        counts[OTHER] = sum(count for _, count in ranked[MAX_NAMES - 1:])
    return Page(counts, len(body))


def count_floor(mean: float) -> float:
    return max(COUNT_FLOOR, COUNT_FLOOR_SHARE * mean)


def size_floor(mean: float) -> float:
    return max(SIZE_FLOOR, SIZE_FLOOR_SHARE * mean)


def deviation(mean: float, stdev: float, value: float, floor: float) -> float:
    """How many standard deviations `value` is from `mean`, the deviation no less than
    `floor` (so a history that never moved does not make every change infinite)."""
    return abs(value - mean) / max(stdev, floor)


class Series:
    """The last `length` values of one figure (a tag's count, the size) in a ring, with
    their sum and sum of squares kept as integers: the mean and standard deviation cost
    O(1) per check, exactly, whatever the history's length."""

    __slots__ = ("values", "start", "count", "total", "squares")

    def __init__(self, length: int, zeros: int = 0) -> None:
        self.values = array("q", bytes(8 * length))
        self.start = 0
        self.count = min(zeros, length)  # a tag new to the page was 0 in the checks before
        self.total = 0
        self.squares = 0

    def push(self, value: int) -> None:
        length = len(self.values)
        if self.count == length:
            old = self.values[self.start]
            self.total -= old
            self.squares -= old * old
            self.values[self.start] = value
            self.start = (self.start + 1) % length
        else:
            self.values[(self.start + self.count) % length] = value
            self.count += 1
        self.total += value
        self.squares += value * value

    def last(self, count: int) -> list[int]:
        """The last `count` values, oldest first."""
        length = len(self.values)
        return [self.values[(self.start + i) % length]
                for i in range(max(0, self.count - count), self.count)]

    def resized(self, length: int) -> Series:
        series = Series(length)
        for value in self.last(length):
            series.push(value)
        return series

    def mean(self) -> float:
        return self.total / self.count if self.count else 0.0

    def stdev(self) -> float:
        """The population standard deviation, from exact integer sums."""
        if not self.count:
            return 0.0
        return math.sqrt(max(0, self.count * self.squares - self.total * self.total)) / self.count


@dataclass(frozen=True)
class Change:
    """One figure of a page against its history: `name` is a tag name or SIZE."""

    name: str
    before: float  # the history's mean
    after: int
    sigmas: float

    def text(self) -> str:
        """`<script>: 4 -> 19`, `size: 10.2 kB -> 48.0 kB`."""
        if self.name == SIZE:
            return f"size: {size_text(self.before)} -> {size_text(self.after)}"
        return f"{tag_text(self.name)}: {_number(self.before)} -> {self.after}"


@dataclass(frozen=True)
class Verdict:
    """A page judged against its history: `judged` is False while the history is shorter
    than `needed` (then `changes` is empty); `changes` are every figure that moved, the
    largest deviation first."""

    kept: int  # values in the history before this page
    needed: int
    changes: tuple[Change, ...] = ()

    @property
    def judged(self) -> bool:
        return self.kept >= self.needed

    @property
    def largest(self) -> float:
        return self.changes[0].sigmas if self.changes else 0.0

    def outcome(self, max_deviation: float, fail_deviation: float | None,
                ) -> tuple[str, str]:
        """("up" | "warning" | "down", detail): warning when a figure moved more than
        `max_deviation` from its history, down when more than `fail_deviation`."""
        if not self.judged:
            return "up", f"learning ({self.kept + 1} of {self.needed})"
        over = [change for change in self.changes if change.sigmas > max_deviation]
        if not over:
            return "up", ""
        shown = ", ".join(change.text() for change in over[:SHOWN_CHANGES])
        if len(over) > SHOWN_CHANGES:
            shown += f", +{len(over) - SHOWN_CHANGES} more"
        down = fail_deviation is not None and over[0].sigmas > fail_deviation
        return ("down" if down else "warning"), shown


@dataclass
class History:
    """The last `length` pages of one monitor, as figures: the size and each tag's count.
    A tag whose count was 0 in every page kept is dropped. `lock` serializes the judging
    and recording of one monitor's checks (a `check` may run beside the monitor's own);
    `used` and `interval` tell its owner when it has been forgotten by the config."""

    length: int
    size: Series = field(init=False)
    tags: dict[str, Series] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    used: float = 0.0
    interval: float = 0.0

    def __post_init__(self) -> None:
        self.size = Series(self.length)

    @property
    def kept(self) -> int:
        return self.size.count

    def resize(self, length: int) -> None:
        """A new `history` from a reloaded config: the latest values are kept."""
        if length != self.length:
            self.length = length
            self.size = self.size.resized(length)
            self.tags = {name: series.resized(length) for name, series in self.tags.items()}

    def add(self, page: Page) -> None:
        kept = self.kept
        for name in page.counts.keys() - self.tags.keys():
            self.tags[name] = Series(self.length, zeros=kept)
        for name, series in list(self.tags.items()):
            series.push(page.counts.get(name, 0))
            if not series.total:
                del self.tags[name]
        self.size.push(page.size)

    def judge(self, page: Page, needed: int = MIN_HISTORY) -> Verdict:
        """The page against the history (which it does not enter: see `add`). Tags new to
        the page count from a history of zeros, tags gone from it count as 0."""
        needed = min(needed, self.length)
        kept = self.kept
        if kept < needed:
            return Verdict(kept, needed)
        changes = []
        for name in self.tags.keys() | page.counts.keys():
            series = self.tags.get(name)
            mean, stdev = (series.mean(), series.stdev()) if series else (0.0, 0.0)
            value = page.counts.get(name, 0)
            if value != mean:
                changes.append(Change(name, mean, value,
                                      deviation(mean, stdev, value, count_floor(mean))))
        mean = self.size.mean()
        if page.size != mean:
            changes.append(Change(SIZE, mean, page.size, deviation(
                mean, self.size.stdev(), page.size, size_floor(mean))))
        changes.sort(key=lambda change: (-change.sigmas, change.name))
        return Verdict(kept, needed, tuple(changes))


def tag_text(name: str) -> str:
    """A tag name as shown: `<script>`, control characters made harmless, long names cut."""
    if name == OTHER:
        return "other tags"
    shown = "".join(ch if ch.isprintable() else "?" for ch in name)
    return f"<{shown[:40]}{'...' if len(shown) > 40 else ''}>"


def size_text(size: float) -> str:
    """Bytes as people read them: `512 B`, `10.2 kB`, `3.4 MB` (powers of 1000)."""
    if size < 1000:
        return f"{size:.0f} B"
    for unit in ("kB", "MB"):
        size /= 1000
        if size < 999.95:
            return f"{size:.1f} {unit}"
    return f"{size / 1000:.1f} GB"


def _number(value: float) -> str:
    """A mean as shown: whole when it is (near enough), else with one decimal."""
    return f"{value:.0f}" if abs(value - round(value)) < 0.05 else f"{value:.1f}"
