"""A component's metrics as a Prometheus text file, rewritten atomically every few seconds.

The file is ``METRICS_DIR/<component>.prom`` (``ROOT/.metrics`` unless the
configuration sets ``metrics_dir``), for node_exporter's textfile collector and
for ``spoolq stats --prom``.  Besides the component's own counters (handled,
retried, parked, latency) each write adds two gauges read from the spool at
that moment::

    spoolq_queue_depth{component,spool}                messages in the input spool
    spoolq_queue_oldest_age_seconds{component,spool}   age of the oldest one (0 when empty)

A write that fails (full disk, directory removed) is logged and tried again at
the next interval: metrics never stop a component.
"""

from __future__ import annotations

import logging
import os
import threading

from spoolq.metrics.registry import Metrics
from spoolq.spool import Spool
from spoolq.spool.atomic_file import write_atomically

log = logging.getLogger("spoolq.metrics_file")

METRICS_DIR = ".metrics"
QUEUE_DEPTH = "spoolq_queue_depth"
OLDEST_AGE = "spoolq_queue_oldest_age_seconds"


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

    def write(self) -> bool:
        """Refresh the spool gauges and replace the file; ``False`` (logged) when it failed."""
        try:
            stats = self.spool.stats()
            self.metrics.set(QUEUE_DEPTH, stats.ready + stats.locked, **self.labels)
            self.metrics.set(OLDEST_AGE, stats.oldest_age or 0.0, **self.labels)
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
        """End the writer thread and write the final figures."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.write()

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            self.write()
