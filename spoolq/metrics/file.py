"""A component's metrics as a Prometheus textfile, rewritten every few seconds.

The file is ``METRICS_DIR/<component>.prom`` (``ROOT/.metrics`` unless the
configuration sets ``metrics_dir``), for node_exporter's textfile collector,
for ``spoolq stats --prom``, ``spoolq top`` and the ``/metrics`` endpoint of
``spoolq run``.  It is written by prometheus_client's ``write_to_textfile``: a
temporary beside it, renamed over it, so a scraper never reads half a file.
Besides the component's own counters and latency histogram
(:mod:`spoolq.metrics.component`) each write refreshes two gauges read from
the spool at that moment::

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

import glob
import logging
import os
import threading
import time

from prometheus_client import write_to_textfile

from spoolq.metrics.component import ComponentMetrics
from spoolq.spool import Spool
from spoolq.spool.processes import alive

log = logging.getLogger("spoolq.metrics_file")

METRICS_DIR = ".metrics"


def metrics_path(root_path: str, metrics_dir: str | None, component: str) -> str:
    """Where the metrics file of ``component`` goes."""
    return os.path.join(metrics_dir or os.path.join(root_path, METRICS_DIR), f"{component}.prom")


def write_textfile(path: str, registry) -> None:
    """Replace ``path`` with ``registry``'s text, making its directory if missing (``OSError`` if not)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    write_to_textfile(path, registry)


def remove_orphan_temporaries(path: str) -> int:
    """Remove what a writer of ``path`` killed mid-write left: ``PATH.PID.THREAD`` of a dead PID.

    ``write_to_textfile`` names its temporary so; a process killed between
    writing and renaming leaves it behind, and nobody else would remove it.
    """
    removed = 0
    for leftover in glob.glob(glob.escape(path) + ".*.*"):
        pid = leftover[len(path) + 1 :].split(".", 1)[0]
        if not pid.isdigit() or alive(int(pid)):
            continue
        try:
            os.unlink(leftover)
            removed += 1
        except OSError:
            continue  # removed by another, or not ours to remove
    return removed


class MetricsFile:
    """Writes ``metrics`` to ``path`` at start, every ``interval`` seconds, and at stop."""

    def __init__(self, metrics: ComponentMetrics, path: str, spool: Spool, interval: float = 10.0):
        self.metrics = metrics
        self.path = path
        self.spool = spool
        self.interval = interval
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        metrics.up.set(1)

    def write(self) -> bool:
        """Refresh the spool gauges and replace the file; ``False`` (logged) when it failed."""
        try:
            stats = self.spool.stats()
            self.metrics.queue_depth.set(stats.ready + stats.locked)
            self.metrics.oldest_age.set(stats.oldest_age or 0.0)
            self.metrics.written_at.set(round(time.time(), 3))
            write_textfile(self.path, self.metrics.registry)
        except OSError as exc:
            log.warning("cannot write metrics to %s: %s", self.path, exc)
            return False
        return True

    def start(self) -> None:
        remove_orphan_temporaries(self.path)
        self.write()
        self._thread = threading.Thread(target=self._run, name=f"metrics-{os.path.basename(self.path)}")
        self._thread.start()

    def stop(self) -> None:
        """End the writer thread and write the final figures, saying the component is down."""
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.metrics.up.set(0)
        self.write()

    def _run(self) -> None:
        while not self._stopped.wait(self.interval):
            self.write()
