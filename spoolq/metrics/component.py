"""A component's metrics: prometheus_client families in a registry of its own.

One :class:`~prometheus_client.CollectorRegistry` per component, not the
client's global one: several components can run in one process (the tests,
an embedding program), and each writes its own textfile (``<component>.prom``,
:mod:`spoolq.metrics.file`) holding its own figures and nothing else.

Every series is made, labelled, when the component is: a counter that never
moved reads 0 rather than being absent, so ``rate()`` works from the start.
The handler's latency is a histogram, which Prometheus can aggregate across
components and nodes (``histogram_quantile(0.99, sum by (le) (rate(...)))``),
as a summary's quantiles cannot be.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

HANDLED = "spoolq_messages_handled_total"
RETRIED = "spoolq_messages_retried_total"
PARKED = "spoolq_messages_parked_total"
LATENCY = "spoolq_handle_seconds"
QUEUE_DEPTH = "spoolq_queue_depth"
OLDEST_AGE = "spoolq_queue_oldest_age_seconds"
UP = "spoolq_component_up"
WRITTEN_AT = "spoolq_metrics_written_timestamp_seconds"

#: Handler latency buckets, in seconds: an echo handler answers in about 0.1 ms, a
#: handler copying files to tape may take a minute.
LATENCY_BUCKETS = (
    *(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
    *(0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)


class ComponentMetrics:
    """The counters, latency histogram and spool gauges of one component, bound to its labels.

    The attributes are the labelled children, ready for the hot path:
    ``metrics.handled.inc()``, ``metrics.latency.observe(seconds)``.
    """

    def __init__(self, component: str, spool: str):
        self.registry = CollectorRegistry()
        by_component = {"labelnames": ("component",), "registry": self.registry}
        by_spool = {"labelnames": ("component", "spool"), "registry": self.registry}
        handled = Counter(HANDLED, "Messages handled and removed from their spool.", **by_component)
        retried = Counter(RETRIED, "Messages written back for a later attempt.", **by_component)
        parked = Counter(
            PARKED, "Messages parked (rejected, malformed, oversize, no handler).", **by_component
        )
        latency = Histogram(
            LATENCY, "Seconds spent in the handler per message.", buckets=LATENCY_BUCKETS, **by_component
        )
        depth = Gauge(QUEUE_DEPTH, "Messages in the component's input spool.", **by_spool)
        oldest = Gauge(OLDEST_AGE, "Age in seconds of the oldest message in the input spool.", **by_spool)
        up = Gauge(UP, "1 while the component runs, 0 once it stopped.", **by_spool)
        written = Gauge(WRITTEN_AT, "Unix time the metrics file was written: old means stale.", **by_spool)
        self.handled = handled.labels(component)
        self.retried = retried.labels(component)
        self.parked = parked.labels(component)
        self.latency = latency.labels(component)
        self.queue_depth = depth.labels(component, spool)
        self.oldest_age = oldest.labels(component, spool)
        self.up = up.labels(component, spool)
        self.written_at = written.labels(component, spool)

    def value(self, name: str, **labels: str) -> float:
        """One sample's current value (0 when there is none), e.g. ``value(HANDLED, component="pe")``."""
        return self.registry.get_sample_value(name, labels) or 0.0

    def render(self) -> str:
        """Everything, in the Prometheus text exposition format."""
        return generate_latest(self.registry).decode("utf-8")
