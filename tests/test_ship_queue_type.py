"""``queue_type``: a quorum queue declared and used on every SEND and SUBSCRIBE; stream refused."""

from __future__ import annotations

import pytest

from spoolq.errors import ConfigError
from spoolq.message import Message
from spoolq.shippers.config import load_shipping
from spoolq.testbed.shipping import root_of, running, unique, write_node_config
from tests.waiting import wait_until

QUORUM = 'queue_type = "quorum"\n'


def queue_types(broker) -> dict[str, str]:
    """Every queue of the broker and its type, as ``rabbitmqctl list_queues name type`` says."""
    listing = broker.ctl("list_queues", "-q", "--no-table-headers", "name", "type")
    return dict(line.split()[:2] for line in listing.splitlines() if len(line.split()) >= 2)


@pytest.mark.parametrize(
    ("value", "words"),
    [("stream", "stream queues are not supported"), ("lazy", "must be one of classic, quorum")],
)
def test_a_queue_type_other_than_classic_or_quorum_is_refused_naming_file_and_key(
    tmp_path, broker, value, words
):
    path = write_node_config(tmp_path, "a", broker, destination_extra=f'queue_type = "{value}"\n')
    with pytest.raises(ConfigError) as caught:
        load_shipping(str(path))
    message = str(caught.value)
    assert str(path) in message and "destinations.nodes.queue_type" in message and words in message


def test_the_queue_type_is_classic_unless_configured(tmp_path, broker):
    plain = load_shipping(str(write_node_config(tmp_path / "a", "a", broker)))
    quorum = load_shipping(str(write_node_config(tmp_path / "b", "b", broker, destination_extra=QUORUM)))
    assert plain.destinations["nodes"].queue_type == "classic"
    assert quorum.destinations["nodes"].queue_type == "quorum"


@pytest.mark.timeout(180)
def test_messages_travel_through_a_quorum_queue_the_receiver_declared(broker, tmp_path):
    node_b = unique("b")
    sender = write_node_config(tmp_path / "a", unique("a"), broker, destination_extra=QUORUM)
    receiver = write_node_config(tmp_path / "b", node_b, broker, destination_extra=QUORUM)
    queue = f"spoolq-test.{node_b}"
    sent = [Message.new("x", str(n), to=f"md@{node_b}") for n in range(300)]
    md = root_of(receiver).spool("md")
    with running(receiver, "in") as (inbound,):
        wait_until(lambda: queue in queue_types(broker), 60, "the receiver's SUBSCRIBE declaring the queue")
        assert queue_types(broker)[queue] == "quorum"
        # Every SEND must say quorum too: one without it is refused and the connection closed.
        with running(sender, "out") as (outbound,):
            root_of(sender).spool("outgoing").put_many(sent)
            wait_until(lambda: md.count() == len(sent), 120, "every message through the quorum queue")
            assert outbound.status.reconnects == 0 and outbound.status.parked == 0
            assert outbound.status.done == len(sent)
        assert inbound.status.reconnects == 0
    assert {md.get(name).message_id for name in md.names()} == {m.message_id for m in sent}


@pytest.mark.timeout(180)
def test_a_sender_alone_declares_the_quorum_queue_it_sends_to(broker, tmp_path):
    node_b = unique("b")
    sender = write_node_config(tmp_path / "a", unique("a"), broker, destination_extra=QUORUM)
    root_of(sender).spool("outgoing").put_many(Message.new("x", str(n), to=f"md@{node_b}") for n in range(20))
    with running(sender, "out") as (outbound,):
        wait_until(lambda: outbound.status.done == 20, 60, "every send receipted")
    queue = f"spoolq-test.{node_b}"
    assert queue_types(broker)[queue] == "quorum"
    # Kept for the receiver that comes later (a quorum queue's figures reach rabbitmqctl late).
    wait_until(lambda: broker.queue_depth(queue) == 20, 30, "20 messages in the queue")


def test_a_classic_destination_declares_a_classic_queue_as_before(broker, tmp_path):
    node_b = unique("b")
    sender = write_node_config(tmp_path / "a", unique("a"), broker)
    root_of(sender).spool("outgoing").put(Message.new("x", "one", to=f"md@{node_b}"))
    with running(sender, "out") as (outbound,):
        wait_until(lambda: outbound.status.done == 1, 60, "the send receipted")
    assert queue_types(broker)[f"spoolq-test.{node_b}"] == "classic"
