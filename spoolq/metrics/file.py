"""A component's metrics as a Prometheus text file, rewritten atomically every few seconds.

The file is ``METRICS_DIR/<component>.prom`` (``ROOT/.metrics`` unless the
configuration sets ``metrics_dir``), for node_exporter's textfile collector and
for ``spoolq stats --prom``.  Besides the component's own counters (handled,
retried, parked, latency) each write adds two gauges read from the spool at
that moment::

    spoolq_queue_depth{component,spool}                messages in the input spool
    spoolq_queue_oldest_age_seconds{component,spool}   age of the oldest one (0 when empty)

and two that tell a live file from a stale one, as the textfile convention asks::

    spoolq_component_up{component,spool}                       1 while running; 0 once stopped
    spoolq_metrics_written_timestamp_seconds{component,spool}  Unix time of this write

A file left by a component that stopped says ``up 0``; one left by a process
that was killed keeps ``up 1`` but a timestamp older than a few intervals
(alert on ``time() - spoolq_metrics_written_timestamp_seconds > 3 * interval``).

A write that fails (full disk, directory removed) is logged and tried again at
the next interval: metrics never stop a component.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from spoolq.metrics.registry import Metrics
from spoolq.spool import Spool
from spoolq.spool.atomic_file import write_atomically

log = logging.getLogger("spoolq.metrics_file")

METRICS_DIR = ".metrics"
QUEUE_DEPTH = "spoolq_queue_depth"
OLDEST_AGE = "spoolq_queue_oldest_age_seconds"
UP = "spoolq_component_up"
WRITTEN_AT = "spoolq_metrics_written_timestamp_seconds"


def metrics_path(root_path: str, metrics_dir: str | None, component: str) -> str:
    """Where the metrics file of ``component`` goes."""
    return os.path.join(metrics_dir or os.path.join(root_path, METRICS_DIR), f"{component}.prom")


class MetricsFile:
    """Writes ``metrics`` to ``path`` at start, every ``interval`` seconds, and at stop."""

    def __init__(self, metrics: Metrics, path: str, spool: Spool, component: str, interval: float = 10.0):
        self.metrics = metrics
        self.path = path
        self.spool = spool
        self.labels = {"component": component, "spool": spool.name}
        self.interval = interval
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        metrics.describe(QUEUE_DEPTH, "gauge", "Messages in the component's input spool.")
        metrics.describe(OLDEST_AGE, "gauge", "Age in seconds of the oldest message in the input spool.")
        metrics.describe(UP, "gauge", "1 while the component runs, 0 once it stopped.")
        metrics.describe(WRITTEN_AT, "gauge", "Unix time this file was written: old means stale.")
        metrics.set(UP, 1, **self.labels)

    def write(self) -> bool:
        """Refresh the spool gauges and replace the file; ``False`` (logged) when it failed."""
        try:
            stats = self.spool.stats()
            self.metrics.set(QUEUE_DEPTH, stats.ready + stats.locked, **self.labels)
            self.metrics.set(OLDEST_AGE, stats.oldest_age or 0.0, **self.labels)
            self.metrics.set(WRITTEN_AT, round(time.time(), 3), **self.labels)
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            write_atomically(self.path, self.metrics.render())
        except OSError as exc:
            log.warning("cannot write metrics to %s: %s", self.path, exc)
            return False
        return True

    def start(self) -> None:
        self.write()
        self._thread = threading.Thread(target=self._run, name=f"metrics-{self.labels['component']}")
        self._thread.start()

    def stop(self) -> None:
        """End the writer thread and write the final figures, saying the component is down."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.metrics.set(UP, 0, **self.labels)
        self.write()

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            self.write()
