"""A component's metrics: prometheus_client families, read back with the client's own parser."""

from __future__ import annotations

import threading

from prometheus_client.parser import text_string_to_metric_families

from spoolq.metrics.component import HANDLED, ComponentMetrics
from spoolq.spool.atomic_file import write_atomically


def families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


def test_counters_gauges_and_the_latency_histogram_parse_as_prometheus_text():
    metrics = ComponentMetrics("pe", 'we"ird')
    metrics.handled.inc()
    metrics.handled.inc(2)
    metrics.queue_depth.set(7)
    for seconds in (0.0002, 0.003, 0.2, 40.0):
        metrics.latency.observe(seconds)
    exported = families(metrics.render())
    assert exported["spoolq_messages_handled"].type == "counter"
    assert (
        exported["spoolq_messages_handled"].documentation == "Messages handled and removed from their spool."
    )
    assert [
        (s.name, s.labels, s.value)
        for s in exported["spoolq_messages_handled"].samples
        if s.name.endswith("_total")
    ] == [("spoolq_messages_handled_total", {"component": "pe"}, 3)]
    assert exported["spoolq_queue_depth"].samples[0].labels == {"component": "pe", "spool": 'we"ird'}
    assert exported["spoolq_queue_depth"].samples[0].value == 7
    latency = exported["spoolq_handle_seconds"]
    assert latency.type == "histogram"
    buckets = {s.labels["le"]: s.value for s in latency.samples if s.name.endswith("_bucket")}
    assert buckets["0.00025"] == 1 and buckets["0.005"] == 2 and buckets["0.25"] == 3 and buckets["+Inf"] == 4
    count = [s.value for s in latency.samples if s.name == "spoolq_handle_seconds_count"]
    assert count == [4]


def test_a_counter_that_never_moved_reads_zero_rather_than_missing():
    exported = families(ComponentMetrics("pe", "pe").render())
    retried = [s for s in exported["spoolq_messages_retried"].samples if s.name.endswith("_total")]
    assert [(s.labels, s.value) for s in retried] == [({"component": "pe"}, 0)]


def test_counting_from_many_threads_loses_nothing():
    metrics = ComponentMetrics("pe", "pe")

    def bump():
        for _ in range(1000):
            metrics.handled.inc()

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert metrics.value(HANDLED, component="pe") == 4000


def test_write_atomically_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "spoolq.prom"
    target.write_text("old")
    write_atomically(target, "new\n")
    assert target.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["spoolq.prom"]
