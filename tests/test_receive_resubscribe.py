"""A receiver whose subscription the broker ends subscribes again, and says it is not consuming meanwhile."""

from __future__ import annotations

import contextlib

import pytest

from spoolq.message import Message
from spoolq.shippers.status import NOT_CONSUMING, shipper_rows
from spoolq.testbed.shipping import root_of, running, sender_and_receiver
from tests.waiting import wait_until


def says_not_consuming(config_path, words: str) -> bool:
    """Whether the receiver "in"'s status file (what `spoolq stats` shows) says it is not consuming, why."""
    rows = [r for r in shipper_rows(str(root_of(config_path).path)) if r["name"] == "in"]
    return bool(rows) and rows[0]["state"] in (NOT_CONSUMING, "disconnected") and words in rows[0]["reason"]


@contextlib.contextmanager
def queue_forbidden(broker, queue: str):
    """The test user may not declare ``queue`` (so neither SUBSCRIBE nor SEND can re-create it)."""
    name = queue.replace(".", r"\.")
    broker.ctl("set_permissions", "-p", "/", broker.user, f"^(?!{name}$).*", ".*", ".*")
    try:
        yield
    finally:
        broker.ctl("set_permissions", "-p", "/", broker.user, ".*", ".*", ".*")


@pytest.mark.timeout(180)
def test_a_receiver_whose_queue_is_deleted_subscribes_again_and_receives(broker, tmp_path):
    sender, receiver, node_b = sender_and_receiver(tmp_path, broker)
    outgoing, md = root_of(sender).spool("outgoing"), root_of(receiver).spool("md")
    with running(sender, "out"), running(receiver, "in") as (inbound,):
        outgoing.put_many(Message.new("x", str(n), to=f"md@{node_b}") for n in range(20))
        wait_until(lambda: md.count() == 20, 60, "the first 20")
        broker.delete_queue(f"spoolq-test.{node_b}")  # RabbitMQ: "Server cancelled subscription"
        wait_until(lambda: "cancelled the subscription" in inbound.status.last_error, 30, "cancellation seen")
        wait_until(lambda: inbound.status.state == "connected", 30, "subscribed again")
        assert inbound.status.reconnects == 1  # on a new connection, which declares the queue again
        # (The sender's connection still believes the queue declared: had it sent before the
        # receiver declared it again, RabbitMQ would have receipted and dropped the messages.)
        outgoing.put_many(Message.new("x", str(n), to=f"md@{node_b}") for n in range(20, 40))
        wait_until(lambda: md.count() == 40, 60, "the next 20, through the new subscription")


@pytest.mark.timeout(180)
def test_a_receiver_that_cannot_subscribe_says_not_consuming_until_it_can(broker, tmp_path):
    sender, receiver, node_b = sender_and_receiver(tmp_path, broker)
    queue = f"spoolq-test.{node_b}"
    outgoing, md = root_of(sender).spool("outgoing"), root_of(receiver).spool("md")
    with running(sender, "out"), running(receiver, "in") as (inbound,):
        outgoing.put(Message.new("x", "first", to=f"md@{node_b}"))
        wait_until(lambda: md.count() == 1, 60, "the first message")
        with queue_forbidden(broker, queue):
            broker.delete_queue(queue)  # cancelled, and the SUBSCRIBE of each reconnect refused
            wait_until(lambda: "cancelled the subscription" in inbound.status.last_error, 30, "cancellation")
            wait_until(lambda: "ACCESS_REFUSED" in inbound.status.reason, 30, "the refusal as the reason")
            wait_until(lambda: inbound.status.reconnects >= 2, 30, "a second refused SUBSCRIBE")
            wait_until(lambda: says_not_consuming(receiver, "ACCESS_REFUSED"), 30, "the status file says so")
            assert md.count() == 1
        wait_until(lambda: inbound.status.state == "connected", 60, "consuming again")
        outgoing.put(Message.new("x", "second", to=f"md@{node_b}"))
        wait_until(lambda: md.count() == 2, 60, "the second message")
