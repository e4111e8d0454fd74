"""``spoolq ship`` and ``spoolq receive`` run as an operator runs them."""

from __future__ import annotations

import signal
import subprocess
import sys

from spoolq.message import Message
from spoolq.testbed.shipping import root_of, unique, write_node_config
from tests.brokers import EACH_BROKER
from tests.conftest import cli_env
from tests.waiting import wait_until


@EACH_BROKER
def test_ship_and_receive_commands_deliver_drain_on_sigterm_and_show_in_stats(broker, tmp_path, cli):
    node_b = unique("b")
    sender = write_node_config(tmp_path / "a", unique("a"), broker)
    receiver = write_node_config(tmp_path / "b", node_b, broker)
    root_of(sender).spool("outgoing").put_many(Message.new("x", str(n), to=f"md@{node_b}") for n in range(30))
    commands = [
        [sys.executable, "-m", "spoolq", "--config", str(sender), "ship", "--shipper", "out"],
        [sys.executable, "-m", "spoolq", "--config", str(receiver), "receive", "--shipper", "in"],
    ]
    processes = [subprocess.Popen(c, env=cli_env(), stderr=subprocess.PIPE) for c in commands]
    try:
        md = root_of(receiver).spool("md")
        wait_until(lambda: md.count() == 30, 60, "30 delivered")
        wait_until(lambda: "connected" in cli("--config", str(sender), "stats").stdout.decode(), 10, "stats")
        shown = cli("--config", str(sender), "stats").stdout.decode()
        assert "out" in shown and "ship" in shown
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        outcomes = [p.communicate(timeout=30) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], [err.decode()[-1500:] for _, err in outcomes]
    assert root_of(sender).spool("outgoing").count() == 0


def test_running_a_shipper_with_the_wrong_command_is_one_clear_error(broker, tmp_path, cli):
    config = write_node_config(tmp_path / "a", unique("a"), broker)
    done = cli("--config", str(config), "receive", "--shipper", "out")
    assert done.returncode == 4
    assert b"use 'spoolq ship'" in done.stderr and b"Traceback" not in done.stderr
