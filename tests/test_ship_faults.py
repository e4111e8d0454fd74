"""Broker restarts, killed connections, a receiver killed between write and ack, failover."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from spoolq.message import Message
from spoolq.testbed.broker import free_port
from spoolq.testbed.shipping import root_of, running, unique, write_node_config
from tests.conftest import cli_env
from tests.waiting import wait_until


def distinct_ids(spool) -> set[str]:
    return {spool.get(name).message_id for name in spool.names()}


@pytest.mark.timeout(300)
def test_broker_restart_in_the_middle_of_10000_messages_loses_nothing(broker, tmp_path):
    sender = write_node_config(tmp_path / "a", unique("a"), broker)
    node_b = unique("b")
    receiver = write_node_config(tmp_path / "b", node_b, broker)
    sent = [Message.new("bulk", str(n), to=f"md@{node_b}") for n in range(10_000)]
    root_of(sender).spool("outgoing").put_many(sent)
    md = root_of(receiver).spool("md")
    try:
        with running(sender, "out"), running(receiver, "in"):
            wait_until(lambda: md.count() >= 2_000, 120, "a fifth of the transfer")
            broker.stop()
            time.sleep(1)
            broker.start()
            outgoing = root_of(sender).spool("outgoing")
            wait_until(lambda: md.count() >= 10_000 and outgoing.count() == 0, 240, "all sent and received")
            time.sleep(1)  # let any late resend arrive: it must be dropped as a duplicate
    finally:
        if not broker.running:
            broker.start()
    assert distinct_ids(md) == {m.message_id for m in sent}
    assert md.count() == 10_000  # duplicates from resends were dropped
    assert root_of(sender).spool("outgoing").count() == 0


@pytest.mark.timeout(120)
def test_connections_killed_by_the_broker_are_reopened(broker, tmp_path):
    sender = write_node_config(tmp_path / "a", unique("a"), broker)
    node_b = unique("b")
    receiver = write_node_config(tmp_path / "b", node_b, broker)
    outgoing = root_of(sender).spool("outgoing")
    md = root_of(receiver).spool("md")
    with running(sender, "out"), running(receiver, "in") as (inbound,):
        outgoing.put_many(Message.new("x", str(n), to=f"md@{node_b}") for n in range(100))
        wait_until(lambda: md.count() == 100, what="first 100")
        broker.close_all_connections()
        # The disconnected state lasts one 0.2 s backoff: wait for the count of reconnections.
        wait_until(lambda: inbound.status.reconnects >= 1, 30, "the receiver's loss seen and reconnected")
        outgoing.put_many(Message.new("x", str(n), to=f"md@{node_b}") for n in range(100, 200))
        wait_until(lambda: md.count() == 200, 60, "second 100 after reconnect")
    assert len(distinct_ids(md)) == 200


@pytest.mark.timeout(120)
def test_receiver_killed_between_write_and_ack_drops_the_redelivered_duplicate(broker, tmp_path):
    sender = write_node_config(tmp_path / "a", unique("a"), broker)
    node_b = unique("b")
    receiver = write_node_config(tmp_path / "b", node_b, broker)
    sent = [Message.new("x", str(n), to=f"md@{node_b}") for n in range(20)]
    with running(sender, "out"):
        root_of(sender).spool("outgoing").put_many(sent)
        wait_until(lambda: root_of(sender).spool("outgoing").count() == 0, what="all sent")
    command = [sys.executable, "-m", "spoolq", "--config", str(receiver), "receive", "--shipper", "in"]
    hard = subprocess.run(
        command, env=cli_env(SPOOLQ_TEST_EXIT_AFTER_WRITE="1"), capture_output=True, timeout=60
    )
    assert hard.returncode == 137, hard.stderr.decode()[-2000:]
    md = root_of(receiver).spool("md")
    first = md.count()
    assert first > 0  # written, never acked: the broker still holds them
    process = subprocess.Popen(command, env=cli_env(), stderr=subprocess.PIPE)
    try:
        wait_until(lambda: md.count() >= 20 and broker.queue_depth(f"spoolq-test.{node_b}") == 0, 60, "rest")
        time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGTERM)
        _, errors = process.communicate(timeout=30)
    assert process.returncode == 0, errors.decode()[-2000:]
    assert md.count() == 20
    assert distinct_ids(md) == {m.message_id for m in sent}


def test_failover_to_the_second_host_when_the_first_is_closed(broker, tmp_path):
    closed = free_port()
    hosts = [f"127.0.0.1:{closed}", f"127.0.0.1:{broker.stomp_port}"]
    node_b = unique("b")
    beats = 'heartbeat_send_ms = 1000\nheartbeat_recv_ms = 1000\norder = "in-order"\n'  # the closed one first
    sender = write_node_config(tmp_path / "a", unique("a"), broker, hosts=hosts, broker_extra=beats)
    receiver = write_node_config(tmp_path / "b", node_b, broker, hosts=hosts, broker_extra=beats)
    root_of(sender).spool("outgoing").put(Message.new("x", "via failover", to=f"md@{node_b}"))
    with running(sender, "out") as (outbound,), running(receiver, "in"):
        md = root_of(receiver).spool("md")
        wait_until(lambda: md.count() == 1, what="delivery via the second host")
        assert outbound.status.broker == f"127.0.0.1:{broker.stomp_port}"


def test_status_file_reports_the_shipper(broker, tmp_path):
    from spoolq.shippers.status import shipper_rows

    sender = write_node_config(tmp_path / "a", unique("a"), broker)
    with running(sender, "out"):
        wait_until(lambda: any(r["state"] == "connected" for r in shipper_rows(str(root_of(sender).path))))
    rows = shipper_rows(root_of(sender).path)
    assert [(r["name"], r["kind"], r["state"]) for r in rows] == [("out", "ship", "stopped")]
    assert os.path.exists(os.path.join(root_of(sender).path, ".shippers", "out.json"))
