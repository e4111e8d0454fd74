"""The children of ``spoolq run`` and ``spoolq demo`` import the installed spoolq, wherever they start.

The documented ``/etc/spoolq`` layout puts a ``spoolq/`` folder beside the
operator: ``cd /etc && spoolq -c spoolq/spoolq.toml run``.  A child started as
``python -m spoolq`` would import that folder instead of the package.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spoolq.message import Message
from spoolq.spool import SpoolRoot
from tests.conftest import cli_env
from tests.run_helpers import component_table

SPOOLQ_SCRIPT = str(Path(sys.executable).parent / "spoolq")  # the console script, as an operator runs it


def folder_with_a_bogus_spoolq(path: Path) -> Path:
    """``path`` holding a ``spoolq/__init__.py`` that fails when imported."""
    (path / "spoolq").mkdir(parents=True)
    (path / "spoolq" / "__init__.py").write_text("raise ImportError('the current directory was imported')\n")
    return path


def answer_of(root: SpoolRoot, spool: str, timeout: float) -> Message | None:
    replies = root.spool(f"{spool}_reply")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for claim in replies.claims():
            reply = claim.message()
            claim.ack()
            return reply
        time.sleep(0.05)
    return None


@pytest.mark.timeout(60)
def test_run_from_a_folder_holding_spoolq_starts_its_components(tmp_path):
    etc = folder_with_a_bogus_spoolq(tmp_path / "etc")
    (etc / "spoolq" / "spoolq.toml").write_text(component_table("echo"))
    root = SpoolRoot(tmp_path / "root")
    log_path = tmp_path / "run.log"
    with open(log_path, "wb") as log:
        run = subprocess.Popen(
            [SPOOLQ_SCRIPT, "-c", "spoolq/spoolq.toml", "--root", root.path, "run", "--restart-cap", "1"],
            cwd=etc,
            stderr=log,
            env=cli_env(),
        )
    try:
        root.spool("echo").put(Message.new("ping", "hello"))
        reply = answer_of(root, "echo", timeout=20)
        assert reply is not None, log_path.read_text()
        assert "current directory was imported" not in log_path.read_text()
    finally:
        run.send_signal(signal.SIGTERM)
        try:
            run.wait(timeout=15)
        except subprocess.TimeoutExpired:
            run.kill()
            run.wait()


@pytest.mark.timeout(100)
def test_demo_from_a_folder_holding_spoolq_runs_its_children(tmp_path):
    here = folder_with_a_bogus_spoolq(tmp_path)
    done = subprocess.run(
        [SPOOLQ_SCRIPT, "demo", "--files", "5"], cwd=here, capture_output=True, env=cli_env(), timeout=90
    )
    run_log = here / "spool" / "run.log"
    logged = run_log.read_text() if run_log.exists() else ""
    assert done.returncode == 0, done.stderr.decode()[-2000:] + logged
    assert os.path.exists(here / "spool" / ".spoolq-demo")
