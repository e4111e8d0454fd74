"""The metrics registry and its Prometheus text rendering."""

from __future__ import annotations

import threading

from spoolq.metrics.registry import Metrics
from spoolq.spool.atomic_file import write_atomically


def test_counters_gauges_and_summaries_render_as_prometheus_text():
    metrics = Metrics()
    metrics.describe("spoolq_messages_handled_total", "counter", "Messages handled.")
    metrics.inc("spoolq_messages_handled_total", component="pe")
    metrics.inc("spoolq_messages_handled_total", 2, component="pe")
    metrics.set("spoolq_queue_depth", 7, spool='we"ird')
    for value in (0.1, 0.2, 0.3, 0.4):
        metrics.observe("spoolq_handle_seconds", value, component="pe")
    text = metrics.render()
    assert "# HELP spoolq_messages_handled_total Messages handled.\n" in text
    assert "# TYPE spoolq_messages_handled_total counter\n" in text
    assert 'spoolq_messages_handled_total{component="pe"} 3\n' in text
    assert 'spoolq_queue_depth{spool="we\\"ird"} 7\n' in text
    assert 'spoolq_handle_seconds{component="pe",quantile="0.5"} 0.3\n' in text
    assert 'spoolq_handle_seconds_count{component="pe"} 4\n' in text
    assert text.endswith("\n")


def test_counting_from_many_threads_loses_nothing():
    metrics = Metrics()

    def bump():
        for _ in range(1000):
            metrics.inc("c")

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert metrics.value("c") == 4000


def test_write_atomically_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "spoolq.prom"
    target.write_text("old")
    write_atomically(target, "new\n")
    assert target.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["spoolq.prom"]
