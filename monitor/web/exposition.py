"""The per-monitor metric families written out in Prometheus's text format (0.0.4) or in
OpenMetrics 1.0, byte for byte as prometheus_client's `generate_latest` writes them (a test
holds the two to that), but about ten times faster.

Why not generate_latest itself: at 5,000 monitors a scrape has some 62,000 samples of five
labels each, and prometheus_client builds a Sample and validates and escapes every label of
every sample: 0.40 s of CPU for the text format and 0.61 s for OpenMetrics, against 0.06 s
here (`python -m bench.metrics` measures both on the same families). Here a monitor's labels
are escaped once per scrape and each sample is one f-string.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

# Every per-monitor sample's labels, in the order prometheus_client writes them (sorted).
BASE_LABELS = ("id", "kind", "name", "target")
MonitorLabels = tuple[str, str, str, str]  # id, kind, name, target


def escape(value: str) -> str:
    """A label value as the exposition writes it."""
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def go_float(value: float) -> str:
    """A sample value as prometheus_client writes it (utils.floatToGoString)."""
    if value != value:  # NaN
        return "NaN"
    if value in (math.inf, -math.inf):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(float(value))
    if value >= 1e6:
        dot = text.find(".")
        # Go switches to exponents sooner than Python (1e6 is "1e+06").
        if dot > 6:
            mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1:]}".rstrip("0.")
            return f"{mantissa}e+{dot - 1:02d}"
    return text


@dataclass(slots=True)
class Family:
    """A metric family of per-monitor samples: each sample is a monitor (an index into the
    scrape's monitors), the values of the family's `extra` labels, and the value."""

    name: str  # without "_total" for a counter, as prometheus_client names families
    type: str  # "gauge" or "counter"
    help: str
    extra: tuple[str, ...] = ()
    samples: list[tuple[int, tuple[str, ...], float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # The extra labels all go between the same two base labels once sorted: a sample is
        # then the monitor's labels before them, the extras, the monitor's labels after.
        spots = {bisect.bisect(BASE_LABELS, name) for name in self.extra}
        if len(spots) > 1 or set(self.extra) & set(BASE_LABELS):
            raise ValueError(f"{self.name}: labels {self.extra} do not sort together")
        if list(self.extra) != sorted(self.extra):
            raise ValueError(f"{self.name}: labels {self.extra} are not in sorted order")

    @property
    def split(self) -> int:
        """How many base labels come before the extra ones (all of them without extras)."""
        return bisect.bisect(BASE_LABELS, self.extra[0]) if self.extra else len(BASE_LABELS)

    def add(self, monitor: int, value: float, *extra: str) -> None:
        self.samples.append((monitor, extra, value))


def render(families: Sequence[Family], monitors: Sequence[MonitorLabels],
           openmetrics: bool) -> Iterator[str]:
    """The families' lines (no "# EOF": the caller ends the exposition), in the format
    prometheus_client writes for `openmetrics` or the text format."""
    pieces = [[f'{name}="{escape(text)}"' for name, text in zip(BASE_LABELS, labels,
                                                                 strict=True)]
              for labels in monitors]
    joined: dict[int, tuple[list[str], list[str]]] = {}
    for family in families:
        split = family.split
        if split not in joined:
            joined[split] = ([",".join(p[:split]) for p in pieces],
                             [",".join(p[split:]) for p in pieces])
        heads, tails = joined[split]
        # The extras' few values (phases, states, reasons), each written once; then a sample
        # is one f-string: what is before the extras, the extras, what is after.
        ex = {values: ",".join(f'{name}="{escape(text)}"'
                               for name, text in zip(family.extra, values, strict=True))
              for values in {s[1] for s in family.samples}}
        yield _header(family, openmetrics)
        name = family.name + "_total" if family.type == "counter" else family.name
        # repr() is what prometheus_client writes for a float below 1e6; above it (a Unix
        # time), Go's exponent form. One check per family spares a call per sample.
        value: Callable[[float], str] = go_float
        if all(type(v) is float and -math.inf < v < 1e6 for _, _, v in family.samples):
            value = repr
        if not family.extra:
            yield "".join([f"{name}{{{heads[i]}}} {value(v)}\n"
                           for i, _, v in family.samples])
        elif split == 0:
            yield "".join([f"{name}{{{ex[e]},{tails[i]}}} {value(v)}\n"
                           for i, e, v in family.samples])
        elif split == len(BASE_LABELS):
            yield "".join([f"{name}{{{heads[i]},{ex[e]}}} {value(v)}\n"
                           for i, e, v in family.samples])
        else:
            yield "".join([f"{name}{{{heads[i]},{ex[e]},{tails[i]}}} {value(v)}\n"
                           for i, e, v in family.samples])


def client_family(family: Family, monitors: Sequence[MonitorLabels]) -> Metric:
    """The same family as a prometheus_client object, for its own generate_latest: what the
    tests hold render() to, and the bench's reference."""
    made = (CounterMetricFamily if family.type == "counter" else GaugeMetricFamily)(
        family.name, family.help, labels=(*BASE_LABELS, *family.extra))
    for i, extra, value in family.samples:
        made.add_metric((*monitors[i], *extra), value)
    return made


def _header(family: Family, openmetrics: bool) -> str:
    help_text = family.help.replace("\\", r"\\").replace("\n", r"\n")
    if openmetrics:
        help_text = help_text.replace('"', r"\"")
        named = family.name
    else:
        named = family.name + "_total" if family.type == "counter" else family.name
    return f"# HELP {named} {help_text}\n# TYPE {named} {family.type}\n"
