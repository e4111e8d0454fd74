"""The short chaos run: kill -9 of each daemon and broker restarts under load lose nothing, leave nothing.

``benchmarks/chaos.py`` runs the real CLI daemons (``spoolq ship``,
``spoolq receive``, ``spoolq watch``) against its own RabbitMQ node, kills
each of them twice with SIGKILL and restarts the broker twice while messages
flow, then waits for every message to be handled.  Its long form is the same
script with more rounds.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, cli_env

SETTLE_TIMEOUT = 150  # seconds after the last kill; restarted daemons should need far less


@pytest.mark.timeout(290)
def test_kills_and_broker_restarts_lose_nothing_and_leave_no_debris(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "chaos.py"),
            "--rounds=2",
            "--messages=200",
            "--seed=7",
            f"--settle-timeout={SETTLE_TIMEOUT}",
            "--json",
        ],
        capture_output=True,
        cwd=tmp_path,
        env=cli_env(),
        timeout=280,
    )
    assert done.stdout, done.stderr.decode()[-3000:]
    report = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert report["disruptions"] == {"broker": 2, "receiver": 2, "shipper": 2, "watcher": 2}
    assert report["sent"] == 200
    figures = json.dumps(report, indent=1)  # in full: pytest would cut a dict short
    assert report["lost"] == 0, figures
    assert report["debris"] == 0, figures
    assert report["settled"], figures
    assert report["delivered"] == 200
    assert done.returncode == 0, done.stderr.decode()[-3000:]
