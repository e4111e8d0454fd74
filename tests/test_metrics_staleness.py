"""A component's metrics file tells live from stale: an up gauge, and the time it was written."""

import re
import signal
import time

from watch_helpers import Watcher

from spoolq import Spool
from tests.waiting import wait_until


def _value(text: str, name: str) -> float | None:
    found = re.search(rf'^{name}{{component="pe",spool="pe"}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else None


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
