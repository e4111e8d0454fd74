"""A shipper's status as a Prometheus text file, beside the components' metric files.

The file is ``METRICS_DIR/shipper-<name>.prom`` (``ROOT/.metrics`` unless the
configuration sets ``metrics_dir``), so node_exporter's textfile collector and
``spoolq stats --prom`` pick it up as they pick up the components' files.  A
prometheus_client collector reads the status at each write, and the client's
``write_to_textfile`` writes it (:func:`spoolq.metrics.file.write_textfile`).  Every series is
labelled ``shipper`` and ``kind``:

====================================  =======  =====================================================
``spoolq_shipper_connected``          gauge    1 while connected to the broker, else 0
``spoolq_shipper_backlog``            gauge    ship: elements in the outgoing spool; receive: received,
                                               not yet written
``spoolq_shipper_in_flight``          gauge    ship: sends awaiting their receipt
``spoolq_shipper_sent_total``         counter  ship: messages the broker confirmed (then removed)
``spoolq_shipper_received_total``     counter  receive: messages written and acked
``spoolq_shipper_parked_total``       counter  messages parked instead of sent or delivered
``spoolq_shipper_duplicates_total``   counter  receive: redelivered duplicates dropped
``spoolq_shipper_reconnects_total``   counter  connections made after the first one
====================================  =======  =====================================================

Counters count since the shipper process started (a restart starts them at
0 again, which Prometheus' ``rate`` understands).  The file is rewritten only
when a figure changed (at most once per interval): an idle shipper leaves it
alone.  A write that fails is logged and tried again later: metrics never
stop a shipper.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from spoolq.metrics.file import metrics_path, remove_orphan_temporaries, write_textfile
from spoolq.shippers.status import ShipperStatus

log = logging.getLogger("spoolq.shippers")


@dataclass(frozen=True)
class Figure:
    """One metric family: which :class:`ShipperStatus` field it shows, for which kinds."""

    name: str
    type: str  # "gauge" or "counter"
    help: str
    field: str  # a ShipperStatus attribute; "connected" is derived from ``state``
    kinds: tuple[str, ...] = ("ship", "receive")


FIGURES = (
    Figure("spoolq_shipper_connected", "gauge", "1 while connected to the broker, else 0.", "connected"),
    Figure(
        "spoolq_shipper_backlog",
        "gauge",
        "ship: messages waiting in the outgoing spool; receive: messages received, not yet written.",
        "backlog",
    ),
    Figure("spoolq_shipper_in_flight", "gauge", "Sends awaiting their receipt.", "in_flight", ("ship",)),
    Figure("spoolq_shipper_sent_total", "counter", "Messages the broker confirmed.", "done", ("ship",)),
    Figure("spoolq_shipper_received_total", "counter", "Messages written and acked.", "done", ("receive",)),
    Figure("spoolq_shipper_parked_total", "counter", "Messages parked with the reason.", "parked"),
    Figure("spoolq_shipper_duplicates_total", "counter", "Duplicates dropped.", "duplicates", ("receive",)),
    Figure("spoolq_shipper_reconnects_total", "counter", "Connections made after the first.", "reconnects"),
)


def shipper_metrics_path(root_path: str, metrics_dir: str | None, name: str) -> str:
    """Where the metrics file of shipper ``name`` goes (beside the components' files)."""
    return metrics_path(root_path, metrics_dir, f"shipper-{name}")


class StatusMetrics:
    """Writes a :class:`ShipperStatus` to ``path`` when it changed, at most once per ``interval``."""

    def __init__(self, status: ShipperStatus, path: str, interval: float = 10.0):
        self.status = status
        self.path = path
        self.interval = interval
        self.figures = [f for f in FIGURES if status.kind in f.kinds]
        self.registry = CollectorRegistry()
        self.registry.register(_StatusCollector(status, self.figures))
        self._last_write = 0.0
        self._written: list[float] | None = None  # the values the file holds
        remove_orphan_temporaries(path)

    def due_in(self) -> float | None:
        """Seconds until :meth:`maybe_write` would write; ``None`` when no figure changed."""
        if self._values() == self._written:
            return None
        return max(0.0, self.interval - (time.monotonic() - self._last_write))

    def maybe_write(self, force: bool = False) -> bool:
        """Refresh and write when due and changed (or ``force``); ``False`` when not written."""
        now = time.monotonic()
        if not force and (now - self._last_write < self.interval or self._values() == self._written):
            return False
        self._last_write = now
        return self.write()

    def write(self) -> bool:
        """Replace the file with the status as it is now; ``False`` (logged) on failure."""
        values = self._values()
        try:
            write_textfile(self.path, self.registry)
        except OSError as exc:
            log.warning("shipper %s: cannot write metrics to %s: %s", self.status.name, self.path, exc)
            self._written = None  # tried again when next due
            return False
        self._written = values
        return True

    def _values(self) -> list[float]:
        return figure_values(self.status, self.figures)


def figure_values(status: ShipperStatus, figures: list[Figure]) -> list[float]:
    """What each of ``figures`` says of ``status`` now."""
    values = []
    for figure in figures:
        if figure.field == "connected":
            values.append(1.0 if status.state == "connected" else 0.0)
        else:
            values.append(float(getattr(status, figure.field)))
    return values


class _StatusCollector:
    """A prometheus_client collector: the figures of one :class:`ShipperStatus`, read when collected.

    A shipper's counters are kept by its status (they are also its status
    file's); the collector shows them as they are rather than copying them
    into client counters, which could only be incremented.
    """

    def __init__(self, status: ShipperStatus, figures: list[Figure]):
        self.status = status
        self.figures = figures

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        labels = ("shipper", "kind")
        values = figure_values(self.status, self.figures)
        for figure, value in zip(self.figures, values, strict=True):
            kind = CounterMetricFamily if figure.type == "counter" else GaugeMetricFamily
            family = kind(figure.name, figure.help, labels=labels)
            family.add_metric((self.status.name, self.status.kind), value)
            yield family
