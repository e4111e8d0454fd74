"""A shipper killed by `kill -9` leaves its sends in flight locked; its successor sends them at once.

Before the owner files (spoolq.spool.owners) they waited for the next purge, 60 s
away, and only once older than 2 x (send_timeout + receipt_timeout).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from spoolq.message import Message
from spoolq.testbed.shipping import root_of, unique, write_node_config
from tests.brokers import EACH_BROKER
from tests.conftest import cli_env
from tests.waiting import wait_until


def start_ship(config, log) -> subprocess.Popen:
    command = [sys.executable, "-m", "spoolq", "--config", str(config), "ship", "--shipper", "out"]
    return subprocess.Popen(command, env=cli_env(), stderr=log)


def locked_names(spool) -> set[str]:
    return {name for name in spool.names() if spool.is_locked(name)}


@EACH_BROKER
@pytest.mark.timeout(120)
def test_restarted_shipper_sends_what_the_killed_one_held_within_10_s(broker, tmp_path):
    sender = write_node_config(tmp_path / "a", unique("a"), broker)
    node_b = unique("b")
    outgoing = root_of(sender).spool("outgoing")
    outgoing.put_many(Message.new("x", str(n), to=f"md@{node_b}") for n in range(5000))
    with open(tmp_path / "ship.log", "ab") as log:
        first = start_ship(sender, log)
        try:
            wait_until(lambda: outgoing.count() < 4900 and locked_names(outgoing), 60, "sends in flight")
        finally:
            os.kill(first.pid, signal.SIGKILL)
            first.wait()
        left_locked = locked_names(outgoing)
        assert left_locked  # the killed shipper's sends in flight, still locked
        second = start_ship(sender, log)
        try:
            wait_until(
                lambda: not left_locked & set(outgoing.names()),
                10,
                "the killed shipper's claims sent by its successor",
            )
        except AssertionError as failed:
            raise AssertionError(f"{failed}\n{(tmp_path / 'ship.log').read_text()[-3000:]}") from None
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=30)
    assert second.returncode == 0, (tmp_path / "ship.log").read_text()[-2000:]
