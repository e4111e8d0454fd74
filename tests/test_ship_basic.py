"""Sending and receiving through the real broker, and two nodes talking through it."""

from __future__ import annotations

import threading

import pytest

from spoolq.message import Message
from spoolq.routing import Router
from spoolq.testbed.shipping import root_of, running, unique, write_node_config
from tests.brokers import EACH_BROKER
from tests.waiting import wait_until


def ids_in(spool) -> set[str]:
    return {spool.get(name).message_id for name in spool.names()}


@EACH_BROKER
def test_messages_sent_arrive_once_in_the_addressed_spool(broker, tmp_path):
    sender = write_node_config(tmp_path / "a", unique("a"), broker)
    node_b = unique("b")
    receiver = write_node_config(tmp_path / "b", node_b, broker)
    sent = [Message.new("ping", {"n": n}, to=f"md@{node_b}") for n in range(50)]
    root_of(sender).spool("outgoing").put_many(sent)
    with running(sender, "out"), running(receiver, "in"):
        md = root_of(receiver).spool("md")
        wait_until(lambda: md.count() == 50, what="50 messages in md")
    assert ids_in(md) == {m.message_id for m in sent}
    assert root_of(sender).spool("outgoing").count() == 0


@EACH_BROKER
def test_a_message_without_a_node_is_parked_not_sent(broker, tmp_path):
    sender = write_node_config(tmp_path / "a", unique("a"), broker)
    root = root_of(sender)
    root.spool("outgoing").put(Message.new("ping", "x"))
    with running(sender, "out"):
        wait_until(lambda: root.parked("outgoing").count() == 1, what="parked")
    assert root.spool("outgoing").count() == 0


def serve_md(root, router: Router, stop: threading.Event) -> None:
    """A real handler loop on node2: answer each request in spool md via the router."""
    spool = root.spool("md")
    while not stop.is_set():
        for claim in spool.claims():
            request = claim.message()
            reply = Router.reply_address(request, request.reply("pong", {"n": request.payload()["n"] * 2}))
            root.spool(router.route(reply)).put(reply)
            claim.ack()
        stop.wait(0.05)


@EACH_BROKER
@pytest.mark.timeout(60)
def test_two_nodes_request_and_reply(broker, tmp_path):
    node1, node2 = unique("node1"), unique("node2")
    config1 = write_node_config(tmp_path / "n1", node1, broker)
    config2 = write_node_config(tmp_path / "n2", node2, broker)
    root1, root2 = root_of(config1), root_of(config2)
    router1 = Router(node1)
    requests = [
        Message.new("double", {"n": n}, to=f"md@{node2}", reply_to=f"client@{node1}") for n in range(5)
    ]
    for request in requests:
        assert router1.route(request) == "outgoing"
        root1.spool(router1.route(request)).put(request)
    stop = threading.Event()
    handler = threading.Thread(target=serve_md, args=(root2, Router(node2), stop))
    handler.start()
    try:
        with running(config1, "out", "in"), running(config2, "out", "in"):
            client = root1.spool("client")
            wait_until(lambda: client.count() == 5, what="5 replies on node1")
    finally:
        stop.set()
        handler.join()
    replies = [client.get(name) for name in client.names()]
    assert sorted(r.payload()["n"] for r in replies) == [0, 2, 4, 6, 8]
    assert {r.correlation_id for r in replies} == {r.message_id for r in requests}
