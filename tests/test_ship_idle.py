"""Idle shippers sleep: ``spoolq ship`` and ``spoolq receive`` connected to the broker are never scheduled.

They are woken by inotify, by the broker's frames and by signals, never by a
timer that comes to look; and then they still do their work at once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from spoolq.message import Message
from spoolq.shippers.status import shipper_rows
from spoolq.testbed.shipping import root_of, unique, write_node_config
from tests.conftest import cli_env
from tests.scheduling import context_switches
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(90)

#: Seconds for the last writes after the connect or a message: the status file's (at most one a
#: second, the rate back to 0 in the second) and the metrics file's (every metrics_interval).
SETTLE = 3.0


def start(config, command: str, name: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "spoolq", "--config", str(config), command, "--shipper", name],
        env=cli_env(),
        stderr=subprocess.PIPE,
    )


def connected(config, name: str) -> bool:
    rows = shipper_rows(str(root_of(config).path))
    return any(r["shipper"] == name and r["state"] == "connected" for r in rows)


def stop(*processes: subprocess.Popen) -> list[int]:
    for process in processes:
        process.send_signal(signal.SIGTERM)
    for process in processes:
        process.communicate(timeout=30)
    return [process.returncode for process in processes]


def test_an_idle_ship_and_an_idle_receive_are_never_scheduled(broker, tmp_path):
    node = unique("idle")
    config = write_node_config(tmp_path / "a", node, broker)
    shipper, receiver = start(config, "ship", "out"), start(config, "receive", "in")
    try:
        wait_until(lambda: connected(config, "out") and connected(config, "in"), 60, "both connected")
        time.sleep(SETTLE)
        status = root_of(config).path + "/.shippers/out.json"
        written = os.stat(status).st_mtime_ns
        before = [context_switches(shipper.pid), context_switches(receiver.pid)]
        time.sleep(3)
        assert [context_switches(shipper.pid), context_switches(receiver.pid)] == before
        assert os.stat(status).st_mtime_ns == written  # nothing changed: the status file is left alone
    finally:
        assert stop(shipper, receiver) == [0, 0]


def test_an_idle_shipper_wakes_for_a_message_and_sleeps_again(broker, tmp_path):
    node = unique("idle")
    config = write_node_config(tmp_path / "a", node, broker, top_extra="metrics_interval = 1")
    root = root_of(config)
    shipper, receiver = start(config, "ship", "out"), start(config, "receive", "in")
    try:
        wait_until(lambda: connected(config, "out") and connected(config, "in"), 60, "both connected")
        time.sleep(SETTLE)
        for n in range(3):  # each finds the shipper idle, its claimer and its loop asleep
            root.spool("outgoing").put(Message.new("ping", str(n), to=f"md@{node}"))
            wait_until(lambda n=n: root.spool("md").count() == n + 1, 30, f"message {n} delivered")
            wait_until(lambda: root.spool("outgoing").count() == 0, 30, "the sent element removed")
        time.sleep(SETTLE)
        before = context_switches(shipper.pid)
        time.sleep(2)
        assert context_switches(shipper.pid) == before
        rows = {r["shipper"]: r for r in shipper_rows(root.path)}
        assert (rows["out"]["done"], rows["out"]["rate"], rows["out"]["in_flight"]) == (3, 0.0, 0)
        assert rows["in"]["done"] == 3
    finally:
        assert stop(shipper, receiver) == [0, 0]
