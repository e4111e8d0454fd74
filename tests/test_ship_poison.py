"""One bad message never stops ``spoolq ship`` or ``spoolq receive``, nor is it sent forever.

Through the real broker: a frame or an element nested 100,000 levels deep is
parked with the reason and the messages behind it go through, the daemon
still running; an element whose node is no plain name is parked before it is
sent; an element the broker refuses is parked with the broker's words after
a bounded number of tries, and the rest is sent.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from spoolq import envelope
from spoolq.message import Message
from spoolq.shippers.refusals import MAX_REFUSALS
from spoolq.shippers.stomp import SPOOLQ_ID
from spoolq.spool.parking import iter_parked
from spoolq.testbed.shipping import consuming, publish, root_of, running, unique, write_node_config
from tests.conftest import cli_env
from tests.waiting import wait_until

DEPTH = 100_000


def deeply_nested() -> bytes:
    """An envelope whose header nests ``DEPTH`` arrays: json raises RecursionError on it."""
    return b'{"header":{"type":' + b"[" * DEPTH + b"]" * DEPTH + b'},"body":"x"}'


@contextlib.contextmanager
def command(config: Path, verb: str, shipper: str):
    """``spoolq --config CONFIG VERB --shipper NAME`` running; stopped with SIGTERM on exit."""
    argv = [sys.executable, "-m", "spoolq", "--config", str(config), verb, "--shipper", shipper]
    process = subprocess.Popen(argv, env=cli_env(), stderr=subprocess.PIPE)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)


def still_running(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        errors = process.stderr.read().decode(errors="replace")
        raise AssertionError(f"exited {process.returncode}: {errors[-2000:]}")


@pytest.mark.timeout(120)
def test_a_deeply_nested_frame_is_parked_and_acked_and_the_messages_behind_it_arrive(broker, tmp_path):
    node = unique("b")
    config = write_node_config(tmp_path, node, broker)
    root = root_of(config)
    md = root.spool("md")
    good = [Message.new("x", str(n), to=f"md@{node}") for n in range(5)]
    frames = [(deeply_nested(), {SPOOLQ_ID: "deep"})] + [
        (envelope.encode(m), {SPOOLQ_ID: m.message_id}) for m in good
    ]
    publish(broker, f"/queue/spoolq-test.{node}", frames)
    with command(config, "receive", "in") as receiver:
        wait_until(lambda: md.count() == 5 or receiver.poll() is not None, 60, "the good messages")
        still_running(receiver)
        wait_until(lambda: broker.queue_depth(f"spoolq-test.{node}") == 0, 30, "every frame acked")
        still_running(receiver)
    assert receiver.returncode == 0
    [parked] = iter_parked(root, "incoming")
    assert parked.original == deeply_nested()
    assert parked.reason
    assert sorted(md.get(name).message_id for name in md.names()) == sorted(m.message_id for m in good)


@pytest.mark.timeout(120)
def test_a_deeply_nested_element_is_parked_and_the_rest_is_sent(broker, tmp_path):
    sender = write_node_config(tmp_path / "a", unique("a"), broker)
    node_b = unique("b")
    receiver = write_node_config(tmp_path / "b", node_b, broker)
    outgoing = root_of(sender).spool("outgoing")
    outgoing.put(deeply_nested())
    good = [Message.new("x", str(n), to=f"md@{node_b}") for n in range(5)]
    outgoing.put_many(good)
    md = root_of(receiver).spool("md")
    with running(receiver, "in"), command(sender, "ship", "out") as shipper:
        wait_until(lambda: md.count() == 5 or shipper.poll() is not None, 60, "the good messages")
        still_running(shipper)
        wait_until(lambda: outgoing.count() == 0, 30, "the outgoing spool emptied")
        still_running(shipper)
    assert shipper.returncode == 0
    [parked] = iter_parked(root_of(sender), "outgoing")
    assert parked.original == deeply_nested()
    assert "nests deeper than 32 levels" in parked.reason  # why, not only "no node to send it to"
    assert sorted(md.get(name).message_id for name in md.names()) == sorted(m.message_id for m in good)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("node", ["../../exchange/amq.topic/k", "a/b", "..", "a b"])
def test_a_node_that_is_no_plain_name_is_parked_before_sending(broker, tmp_path, node):
    sender = write_node_config(tmp_path / "a", unique("a"), broker)
    node_b = unique("b")
    receiver = write_node_config(tmp_path / "b", node_b, broker)
    outgoing = root_of(sender).spool("outgoing")
    bad = Message.new("x", "bad", to=f"md@{node}")
    outgoing.put(bad)
    good = [Message.new("x", str(n), to=f"md@{node_b}") for n in range(5)]
    outgoing.put_many(good)
    md = root_of(receiver).spool("md")
    with running(receiver, "in"), running(sender, "out") as (shipper,):
        wait_until(lambda: md.count() == 5 and outgoing.count() == 0, 30, "good sent, bad parked")
    [parked] = iter_parked(root_of(sender), "outgoing")
    assert parked.message_id == bad.message_id
    assert "is not a valid node name" in parked.reason  # refused where the address is read: never sent
    assert shipper.status.parked == 1


@pytest.mark.timeout(120)
@pytest.mark.parametrize(
    ("address", "good_node", "refused_node", "words"),
    [
        # RabbitMQ answers "Unknown destination" and keeps the connection.
        ("/{node}/spoolq-poison-{queue}", "queue", "bogus", "Unknown destination"),
        # RabbitMQ answers "not_found: no exchange" and closes the connection.
        ("/exchange/{node}/spoolq-poison-{queue}", "amq.direct", "spoolq-no-such-exchange", "not_found"),
    ],
)
def test_a_message_the_broker_refuses_is_parked_with_its_words_and_the_rest_is_sent(
    broker, tmp_path, address, good_node, refused_node, words
):
    queue = unique("q")
    address = address.replace("{queue}", queue)
    sender = write_node_config(tmp_path / "a", unique("a"), broker)
    text = sender.read_text().replace('address = "/queue/spoolq-test.{node}"', f'address = "{address}"')
    sender.write_text(text)
    outgoing = root_of(sender).spool("outgoing")
    refused = Message.new("x", "refused", to=f"md@{refused_node}")
    good = [Message.new("x", str(n), to=f"md@{good_node}") for n in range(5)]
    outgoing.put(refused)
    outgoing.put_many(good)
    good_destination = address.format(node=good_node)
    with consuming(broker, good_destination) as collector, running(sender, "out") as (shipper,):
        wait_until(lambda: outgoing.count() == 0, 60, "the good sent and the refused parked")
        wait_until(lambda: len(collector.bodies) >= 5, 30, "the good received")
    [parked] = iter_parked(root_of(sender), "outgoing")
    assert parked.message_id == refused.message_id
    assert words in parked.reason
    assert parked.attempts == MAX_REFUSALS
    assert shipper.status.parked == 1
    assert sorted(envelope.decode(b).payload() for b in collector.bodies) == [str(n) for n in range(5)]
