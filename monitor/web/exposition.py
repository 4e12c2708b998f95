"""The per-monitor metric families written out in Prometheus's text format (0.0.4) or in
OpenMetrics 1.0, byte for byte as prometheus_client's `generate_latest` writes them (a test
holds the two to that), but several times faster.

Why not generate_latest itself: at 5,000 monitors a scrape has some 67,000 samples, and
prometheus_client builds a Sample and validates and escapes every label of every sample,
several times the CPU of writing them here (`python -m bench.metrics` measures both on the
same families). Here a monitor's id is escaped once per scrape and each sample is one
f-string.

Every per-monitor sample is labelled by the monitor's `id` (and its family's own labels);
its name, kind and target are said once, by the info family (the info-metric pattern of
node_exporter's node_uname_info), for queries to join on `id`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)

ID = "id"  # the label of every per-monitor sample: the monitor's id
# A sample's name after its family's, as prometheus_client names them.
_SUFFIX = {"counter": "_total", "info": "_info", "gauge": ""}


def escape(value: str) -> str:
    """A label value as the exposition writes it."""
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def _plain(values: Iterable[str]) -> bool:
    """Whether no value has a character to escape: one scan of them all, not a call each."""
    joined = "".join(values)
    return not ("\\" in joined or "\n" in joined or '"' in joined)


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


def go_floats(values: list[float]) -> list[str]:
    """Values as go_float writes them. Unix times (floats from 2001 to 2286) all take one
    shape, Go's "1.7966359694135337e+09": written so without a call each (in half the
    time), the mantissa being repr()'s digits."""
    if (values and set(map(type, values)) == {float} and all(map(math.isfinite, values))
            and min(values) >= 1e9 and max(values) < 1e10):
        return [f"{text[0]}.{text[1:10]}{text[11:]}".rstrip("0.") + "e+09"
                for text in map(repr, values)]
    return [go_float(v) for v in values]


@dataclass(slots=True)
class Family:
    """A metric family of per-monitor samples: each sample is a monitor (an index into the
    scrape's monitor ids), the values of the family's `extra` labels, and the value (1 for
    an info family, whose extra labels are what it says)."""

    name: str  # without "_total" or "_info", as prometheus_client names families
    type: str  # "gauge", "counter" or "info"
    help: str
    extra: tuple[str, ...] = ()
    samples: list[tuple[int, tuple[str, ...], float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        # The labels are written sorted: the id first, then the extras in their order.
        if self.type not in _SUFFIX:
            raise ValueError(f"{self.name}: no metric type {self.type!r}")
        if any(label <= ID for label in self.extra) or list(self.extra) != sorted(
                set(self.extra)):
            raise ValueError(f"{self.name}: labels {self.extra} do not sort after {ID!r}")

    def add(self, monitor: int, value: float, *extra: str) -> None:
        self.samples.append((monitor, extra, value))


def render(families: Sequence[Family], ids: Sequence[str], openmetrics: bool,
           ) -> Iterator[str]:
    """The families' lines (no "# EOF": the caller ends the exposition), in the format
    prometheus_client writes for `openmetrics` or the text format."""
    heads = [f'{ID}="{monitor_id}"' for monitor_id in (
        ids if _plain(ids) else map(escape, ids))]
    for family in families:
        yield _header(family, openmetrics)
        name = family.name + _SUFFIX[family.type]
        values = [v for _, _, v in family.samples]
        # A float below 1e6 is written as Python's str() writes it (in the f-string, no
        # call); a Unix time, Go's exponent form. One check per family, not per sample.
        plain = (set(map(type, values)) <= {float} and all(map(math.isfinite, values))
                 and (not values or max(values) < 1e6))
        if not family.extra:
            if plain:
                yield "".join([f"{name}{{{heads[i]}}} {v}\n" for i, _, v in family.samples])
            else:
                yield "".join([f"{name}{{{heads[i]}}} {text}\n" for (i, _, _), text in zip(
                    family.samples, go_floats(values), strict=True)])
            continue
        # The extras' values, each written once (phases, states, reasons: a few; the info
        # family's: as many as monitors).
        labels = ",".join(f'{label}="{{}}"' for label in family.extra).format
        distinct = {s[1] for s in family.samples}
        if _plain(text for texts in distinct for text in texts):
            ex = {texts: labels(*texts) for texts in distinct}
        else:
            ex = {texts: labels(*map(escape, texts)) for texts in distinct}
        if plain:
            yield "".join([f"{name}{{{heads[i]},{ex[e]}}} {v}\n"
                           for i, e, v in family.samples])
        else:
            yield "".join([f"{name}{{{heads[i]},{ex[e]}}} {text}\n" for (i, e, _), text in zip(
                family.samples, go_floats(values), strict=True)])


def client_family(family: Family, ids: Sequence[str]) -> Metric:
    """The same family as a prometheus_client object, for its own generate_latest: what the
    tests hold render() to, and the bench's reference."""
    if family.type == "info":
        info = InfoMetricFamily(family.name, family.help, labels=(ID,))
        for i, extra, _value in family.samples:
            info.add_metric((ids[i],), dict(zip(family.extra, extra, strict=True)))
        return info
    made = (CounterMetricFamily if family.type == "counter" else GaugeMetricFamily)(
        family.name, family.help, labels=(ID, *family.extra))
    for i, extra, value in family.samples:
        made.add_metric((ids[i], *extra), value)
    return made


def _header(family: Family, openmetrics: bool) -> str:
    help_text = family.help.replace("\\", r"\\").replace("\n", r"\n")
    if openmetrics:
        help_text = help_text.replace('"', r"\"")
        named, kind = family.name, family.type
    else:  # the text format has no info type: a gauge of the sample's name
        named = family.name + _SUFFIX[family.type]
        kind = "gauge" if family.type == "info" else family.type
    return f"# HELP {named} {help_text}\n# TYPE {named} {kind}\n"
