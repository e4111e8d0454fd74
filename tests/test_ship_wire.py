"""What spoolq's STOMP link asks of a broker, on each product: receipts, client-individual acks, prefetch.

The same frames go to RabbitMQ and ActiveMQ; where the two answer differently
(the ``ack`` header of a MESSAGE, the prefetch header each reads, the headers
ActiveMQ adds), spoolq must work with both. docs/shipping.md lists the
differences.
"""

from __future__ import annotations

import threading
import time

import pytest

from spoolq.shippers.config import load_shipping
from spoolq.shippers.link import Link
from spoolq.testbed.shipping import publish, unique, write_node_config
from tests.brokers import EACH_BROKER
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(120)

SETTLE = 1.0  # seconds in which a broker ignoring the prefetch would have sent more


class Inbox:
    """The MESSAGE frames of a link, in arrival order (appended by stomp.py's reader thread)."""

    def __init__(self):
        self.frames = []
        self.lock = threading.Lock()

    def __call__(self, frame) -> None:
        with self.lock:
            self.frames.append(frame)

    def bodies(self) -> list[bytes]:
        with self.lock:
            return [frame.body for frame in self.frames]


def broker_config(broker, tmp_path):
    config = write_node_config(tmp_path, unique("wire"), broker)
    return load_shipping(str(config)).brokers["main"]


def opened(broker, tmp_path, inbox: Inbox | None = None) -> Link:
    link = Link(broker_config(broker, tmp_path), on_message=inbox)
    link.open()
    return link


def queued(broker, count: int) -> str:
    """A new queue holding messages b"0" .. b"count-1"; its STOMP destination."""
    destination = f"/queue/{unique('spoolq-wire')}"
    publish(broker, destination, ((str(n).encode(), {}) for n in range(count)))
    return destination


@EACH_BROKER
def test_each_send_with_a_receipt_header_is_answered_by_its_receipt(broker, tmp_path):
    link = opened(broker, tmp_path)
    destination = f"/queue/{unique('spoolq-wire')}"
    try:
        wanted = [f"r-{n}" for n in range(50)]
        link.send_many([(destination, b"x", {"persistent": "true", "receipt": r}) for r in wanted])
        got: list[str] = []
        deadline = time.monotonic() + 30
        while len(got) < len(wanted) and time.monotonic() < deadline:
            got += link.take_receipts(1.0, at_least=len(wanted) - len(got))
    finally:
        link.close()
    assert sorted(got) == sorted(wanted)
    assert broker.queue_depth(destination.removeprefix("/queue/")) == 50


@EACH_BROKER
def test_no_more_unacked_messages_arrive_than_the_prefetch_and_each_ack_lets_one_more_in(broker, tmp_path):
    destination = queued(broker, 30)
    inbox = Inbox()
    link = opened(broker, tmp_path, inbox)
    try:
        link.subscribe(destination, "client-individual", prefetch=5)
        wait_until(lambda: len(inbox.frames) >= 5, 30, "the first 5")
        time.sleep(SETTLE)
        assert inbox.bodies() == [b"0", b"1", b"2", b"3", b"4"]
        link.ack_many([_ack_id(frame) for frame in inbox.frames[:2]])
        wait_until(lambda: len(inbox.frames) >= 7, 30, "two more after two acks")
        time.sleep(SETTLE)
        assert len(inbox.frames) == 7
    finally:
        link.close()


@EACH_BROKER
def test_client_individual_acks_only_the_messages_named_and_the_rest_come_again(broker, tmp_path):
    destination = queued(broker, 3)
    first, again = Inbox(), Inbox()
    link = opened(broker, tmp_path, first)
    try:
        link.subscribe(destination, "client-individual", prefetch=10)
        wait_until(lambda: len(first.frames) == 3, 30, "three messages")
        link.ack_many([_ack_id(first.frames[1])])  # the middle one only
        time.sleep(SETTLE)  # the ack reaches the broker before the connection ends
    finally:
        link.close()
    link = opened(broker, tmp_path, again)
    try:
        link.subscribe(destination, "client-individual", prefetch=10)
        wait_until(lambda: len(again.frames) == 2, 30, "the two not acked, again")
        time.sleep(SETTLE)
        assert sorted(again.bodies()) == [b"0", b"2"]
        link.ack_many([_ack_id(frame) for frame in again.frames])
        wait_until(lambda: broker.queue_depth(destination.removeprefix("/queue/")) == 0, 30, "all acked")
    finally:
        link.close()


@pytest.mark.parametrize("broker", ["activemq"], indirect=True)
def test_activemq_names_a_message_to_ack_apart_from_its_id_and_adds_its_own_headers(broker, tmp_path):
    destination = queued(broker, 1)
    inbox = Inbox()
    link = opened(broker, tmp_path, inbox)
    try:
        link.subscribe(destination, "client-individual", prefetch=1)
        wait_until(lambda: len(inbox.frames) == 1, 30, "one message")
        headers = inbox.frames[0].headers
        link.ack_many([_ack_id(inbox.frames[0])])
    finally:
        link.close()
    assert headers["ack"] != headers["message-id"]
    assert {"expires", "priority", "timestamp"} <= set(headers)


def _ack_id(frame) -> str:
    """The id an ACK names, as the receiver takes it (spoolq.shippers.receiver._ids_of)."""
    return frame.headers.get("ack") or frame.headers["message-id"]
