"""The figures of a whole root as one Prometheus exposition: ``stats --prom`` and ``/metrics``.

Per spool (from :meth:`Spool.stats`, read at the moment of collection):

- ``spoolq_spool_messages{spool,state="ready"|"locked"}``  elements waiting / being handled
- ``spoolq_spool_bytes{spool}``                           bytes of all elements
- ``spoolq_spool_oldest_age_seconds{spool}``              age of the oldest element (0 when empty)
- ``spoolq_parked_messages{spool}``                       messages parked from the spool

and then every ``*.prom`` file the components and shippers write (``ROOT/.metrics`` unless
``metrics_dir`` says otherwise), merged so that each metric family appears
once even when several components report it (:mod:`spoolq.metrics.textfiles`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from spoolq.errors import SpoolqError
from spoolq.metrics.file import METRICS_DIR
from spoolq.metrics.textfiles import merge, read_textfiles
from spoolq.spool import SpoolRoot


def spool_families(root: SpoolRoot, names: Sequence[str] = ()) -> list[Metric]:
    """The figures of the spools ``names`` (default: every spool) and their parked areas."""
    messages = GaugeMetricFamily(
        "spoolq_spool_messages", "Messages in the spool, by state.", labels=("spool", "state")
    )
    size = GaugeMetricFamily("spoolq_spool_bytes", "Bytes of the messages in the spool.", labels=("spool",))
    oldest = GaugeMetricFamily(
        "spoolq_spool_oldest_age_seconds", "Age of the oldest message in the spool.", labels=("spool",)
    )
    parked = GaugeMetricFamily("spoolq_parked_messages", "Messages parked from the spool.", labels=("spool",))
    for name in names or root.spool_names():
        try:
            stats = root.spool(name, create=False).stats()
        except (SpoolqError, OSError):
            continue  # removed since listed (a scrape must not fail for it)
        messages.add_metric((name, "ready"), stats.ready)
        messages.add_metric((name, "locked"), stats.locked)
        size.add_metric((name,), stats.bytes)
        oldest.add_metric((name,), round(stats.oldest_age or 0.0, 3))
    for name in root.parked_names():
        if names and name not in names:
            continue
        parked.add_metric((name,), root.parked(name, create=False).count())
    return [messages, size, oldest, parked]


class RootCollector:
    """A prometheus_client collector: a root's spool figures and its components' and shippers' files.

    Everything is read when collected, so a scrape sees the spools as they are
    and each file as last written.  ``problems`` holds what the last
    collection skipped (an unreadable file), one line each.
    """

    def __init__(self, root: SpoolRoot, metrics_dir: str | None = None, names: Sequence[str] = ()):
        self.root = root
        self.directory = metrics_dir or os.path.join(root.path, METRICS_DIR)
        self.names = tuple(names)
        self.problems: list[str] = []

    def collect(self) -> Iterator[Metric]:
        families, problems = read_textfiles(self.directory)
        merged, conflicts = merge(spool_families(self.root, self.names) + families)
        self.problems = problems + conflicts
        yield from merged


def root_registry(
    root: SpoolRoot, metrics_dir: str | None = None, names: Sequence[str] = ()
) -> CollectorRegistry:
    """A registry holding only the :class:`RootCollector` of ``root``."""
    registry = CollectorRegistry()
    registry.register(RootCollector(root, metrics_dir, names))
    return registry


def prometheus_stats(root: SpoolRoot, metrics_dir: str | None = None, names: Sequence[str] = ()) -> str:
    """The whole ``spoolq stats --prom`` text (spools ``names``, default all), skipped files as comments."""
    collector = RootCollector(root, metrics_dir, names)
    registry = CollectorRegistry()
    registry.register(collector)
    text = generate_latest(registry).decode("utf-8")
    return text + "".join(f"# {problem}\n" for problem in collector.problems)
