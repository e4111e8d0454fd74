"""`spoolq run` starting real `spoolq watch` components: readiness, replies, metrics file."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli_env

from spoolq.message import Message
from spoolq.spool import SpoolRoot
from tests.prometheus_text import file_sample
from tests.waiting import wait_until

CONFIG = """
[components.pe]
handler = "echo"
workers = 2

[components.pe.retry]
max_attempts = 2
"""


@pytest.mark.timeout(60)
def test_run_starts_watch_components_that_answer_and_export_metrics(root_dir: Path, tmp_path: Path):
    config = tmp_path / "spoolq.toml"
    config.write_text(CONFIG)
    log = tmp_path / "run.log"
    with open(log, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "spoolq", "-c", str(config), "--root", str(root_dir), "run"],
            stderr=stderr,
            env=cli_env(),
        )
    try:
        wait_until(lambda: "component ready" in log.read_text(), timeout=20, what="the component ready")
        request = Message.new("PING", "through run")
        root = SpoolRoot(root_dir)
        root.spool("pe").put(request)
        replies = root.spool("pe_reply")
        wait_until(lambda: replies.count() == 1, what="the reply")
        assert replies.get(next(replies.names())).correlation_id == request.message_id
        prom = root_dir / ".metrics" / "pe.prom"
        handled = "spoolq_messages_handled_total"
        wait_until(lambda: file_sample(prom, handled, component="pe") == 1, what="the metrics file")
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
