"""A broker that takes sends and answers nothing: the shipper says "waiting", and why, and keeps them."""

from __future__ import annotations

import pytest

from spoolq.message import Message
from spoolq.shippers.status import shipper_rows
from spoolq.testbed.shipping import root_of, running, unique, write_node_config
from tests.waiting import wait_until


def status_row(config_path, name: str) -> dict:
    rows = [r for r in shipper_rows(str(root_of(config_path).path)) if r["name"] == name]
    return rows[0] if rows else {}


@pytest.mark.timeout(180)
def test_a_shipper_without_receipts_says_waiting_with_the_reason_and_counts_nothing_sent(broker, tmp_path):
    node_b = unique("b")
    sender = write_node_config(tmp_path / "a", unique("a"), broker)  # no heartbeats: the link stays up
    outgoing = root_of(sender).spool("outgoing")
    host = f"127.0.0.1:{broker.stomp_port}"
    with running(sender, "out") as (outbound,):
        outgoing.put(Message.new("x", "answered", to=f"md@{node_b}"))
        wait_until(lambda: outbound.status.done == 1, 60, "the first receipt")
        with broker.frozen():  # SIGSTOP: the connection stays open, nothing answers
            outgoing.put_many(Message.new("x", str(n), to=f"md@{node_b}") for n in range(10))
            wait_until(lambda: outbound.status.state == "waiting", 30, "the shipper to say it waits")
            reason = outbound.status.reason
            assert reason.startswith("no receipt for ") and reason.endswith(f" s from {host}"), reason
            wait_until(lambda: status_row(sender, "out").get("state") == "waiting", 10, "the status file too")
            assert f"from {host}" in status_row(sender, "out")["reason"]
            assert outbound.status.done == 1  # nothing counted as sent
            assert outgoing.count() == 10  # nothing removed
        wait_until(lambda: outbound.status.done == 11, 90, "the receipts once the broker answers")
        wait_until(lambda: outbound.status.state == "connected", 10, "connected again")
        assert outbound.status.reason == ""
        wait_until(lambda: outgoing.count() == 0, 30, "the sent messages removed")
