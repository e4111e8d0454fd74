"""A component's metrics file tells live from stale: an up gauge, and the time it was written."""

import signal
import time

from prometheus_client.parser import text_string_to_metric_families
from watch_helpers import Watcher

from spoolq import Spool
from tests.waiting import wait_until


def _value(text: str, name: str) -> float | None:
    """The value of ``name`` for component pe, read with the Prometheus client's own parser."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == {"component": "pe", "spool": "pe"}:
                return sample.value
    return None


def test_a_running_component_says_up_and_when_and_a_stopped_one_says_down(root_dir, tmp_path):
    Spool(root_dir / "pe", durable=False)
    prom = root_dir / ".metrics" / "pe.prom"
    watcher = Watcher(root_dir, "pe", "--handler", "noop", log=tmp_path / "watch.log")
    try:
        wait_until(prom.exists, what="the metrics file")
        running = prom.read_text()
        assert _value(running, "spoolq_component_up") == 1
        assert abs(_value(running, "spoolq_metrics_written_timestamp_seconds") - time.time()) < 60
        assert "# TYPE spoolq_component_up gauge" in running
        watcher.signal(signal.SIGTERM)
        watcher.wait()
    finally:
        watcher.close()
    assert _value(prom.read_text(), "spoolq_component_up") == 0, "a file left behind says: down"
