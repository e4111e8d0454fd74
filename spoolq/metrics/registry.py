"""A small thread-safe metrics registry rendered in the Prometheus text format.

Counters and gauges keep one value per label set; a summary keeps the count
and sum of all observations and quantiles over the last ``window``
observations (recent latency is what an operator asks about).  Exporting is
:func:`spoolq.spool.atomic_file.write_atomically`: a scraper (node_exporter's textfile collector) never
reads a half-written file.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Mapping

Labels = tuple[tuple[str, str], ...]
QUANTILES = (0.5, 0.9, 0.99)


def _labels(labels: Mapping[str, str]) -> Labels:
    return tuple(sorted((k, str(v)) for k, v in labels.items()))


def _render_labels(labels: Labels, extra: tuple[tuple[str, str], ...] = ()) -> str:
    pairs = labels + extra
    if not pairs:
        return ""
    escaped = (v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"') for _, v in pairs)
    return "{" + ",".join(f'{k}="{v}"' for (k, _), v in zip(pairs, escaped, strict=True)) + "}"


class _Summary:
    __slots__ = ("count", "total", "recent")

    def __init__(self, window: int):
        self.count = 0
        self.total = 0.0
        self.recent: deque[float] = deque(maxlen=window)

    def quantile(self, q: float) -> float:
        ordered = sorted(self.recent)
        if not ordered:
            return math.nan
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Metrics:
    """Counters, gauges and latency summaries; every method is thread-safe."""

    def __init__(self, window: int = 1024):
        self.window = window
        self._lock = threading.Lock()
        self._help: dict[str, tuple[str, str]] = {}  # name -> (type, help)
        self._values: dict[str, dict[Labels, float]] = {}
        self._summaries: dict[str, dict[Labels, _Summary]] = {}

    def describe(self, name: str, kind: str, help: str) -> None:
        """Declare ``name`` as a ``counter``, ``gauge`` or ``summary`` with its help text."""
        with self._lock:
            self._help[name] = (kind, help)

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        self._add(name, _labels(labels), amount)

    def set(self, name: str, value: float, **labels: str) -> None:
        with self._lock:
            self._values.setdefault(name, {})[_labels(labels)] = float(value)

    def observe(self, name: str, value: float, **labels: str) -> None:
        self._observe(name, _labels(labels), value)

    def _add(self, name: str, key: Labels, amount: float) -> None:
        with self._lock:
            series = self._values.setdefault(name, {})
            series[key] = series.get(key, 0.0) + amount

    def _observe(self, name: str, key: Labels, value: float) -> None:
        with self._lock:
            series = self._summaries.setdefault(name, {})
            summary = series.get(key)
            if summary is None:
                summary = series[key] = _Summary(self.window)
            summary.count += 1
            summary.total += value
            summary.recent.append(value)

    def counter(self, name: str, **labels: str) -> Counter:
        """``name`` with ``labels`` bound once, for a hot path: ``counter.inc(n)``."""
        return Counter(self, name, _labels(labels))

    def summary(self, name: str, **labels: str) -> Summary:
        """``name`` with ``labels`` bound once, for a hot path: ``summary.observe(v)``."""
        return Summary(self, name, _labels(labels))

    def value(self, name: str, **labels: str) -> float:
        """A counter's or gauge's current value (0 if never set)."""
        with self._lock:
            return self._values.get(name, {}).get(_labels(labels), 0.0)

    def count(self, name: str, **labels: str) -> int:
        """How many observations a summary has had."""
        with self._lock:
            summary = self._summaries.get(name, {}).get(_labels(labels))
            return summary.count if summary else 0

    def render(self) -> str:
        """Everything, in the Prometheus text exposition format (version 0.0.4)."""
        lines: list[str] = []
        with self._lock:
            for name in sorted(set(self._values) | set(self._summaries)):
                kind, help = self._help.get(name, ("summary" if name in self._summaries else "untyped", ""))
                if help:
                    lines.append(f"# HELP {name} {help}")
                lines.append(f"# TYPE {name} {kind}")
                for labels, value in sorted(self._values.get(name, {}).items()):
                    lines.append(f"{name}{_render_labels(labels)} {_number(value)}")
                for labels, summary in sorted(self._summaries.get(name, {}).items()):
                    for q in QUANTILES:
                        quantile = (("quantile", str(q)),)
                        lines.append(
                            f"{name}{_render_labels(labels, quantile)} {_number(summary.quantile(q))}"
                        )
                    lines.append(f"{name}_sum{_render_labels(labels)} {_number(summary.total)}")
                    lines.append(f"{name}_count{_render_labels(labels)} {summary.count}")
        return "\n".join(lines) + "\n" if lines else ""


class Counter:
    """One series of a counter (or gauge), its label key computed once.

    ``Metrics.inc`` sorts and stringifies its labels on every call; a
    component counting each message uses this instead.  Nothing is created
    in the registry until the first ``inc``, so rendering is unchanged.
    """

    __slots__ = ("_metrics", "_name", "_key")

    def __init__(self, metrics: Metrics, name: str, key: Labels):
        self._metrics = metrics
        self._name = name
        self._key = key

    def inc(self, amount: float = 1.0) -> None:
        self._metrics._add(self._name, self._key, amount)


class Summary:
    """One series of a summary, its label key computed once (see :class:`Counter`)."""

    __slots__ = ("_metrics", "_name", "_key")

    def __init__(self, metrics: Metrics, name: str, key: Labels):
        self._metrics = metrics
        self._name = name
        self._key = key

    def observe(self, value: float) -> None:
        self._metrics._observe(self._name, self._key, value)


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)
