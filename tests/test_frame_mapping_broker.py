"""Through RabbitMQ: a plain consumer sees the body, spoolq to spoolq is exact, a foreign frame is a body."""

from __future__ import annotations

import json

import pytest

from spoolq import envelope, trail
from spoolq.message import Message
from spoolq.testbed.shipping import consuming, publish, root_of, running, unique, write_node_config
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(180)

NASTY_HEADERS = {
    "type": "CACHE_WRITTEN",
    "content-type": "application/json",
    "reply-to": "pe_reply",
    "timestamp": "1733550000.123456",
    "priority": "not a number",
    "expires": "never",
    "persistent": "maybe",
    "destination": "/queue/elsewhere",
    "spoolq-id": "not mine",
    "empa-id": "x/y",
    "x-custom": "kept",
    "a:b": "c:d\ne\\f\rg",
    "Zürich": "Ελλάδα 東京",
}


def messages_for(node: str) -> list[Message]:
    bodies: list[str | bytes] = [
        '{"file": {"id": "0001"}}',
        "UTF-8: Zürich, Ελλάδα, 東京\n",
        "",
        bytes(range(256)) * 3,
        b"",
        "x" * (256 * 1024),
        envelope.encode(Message("an envelope as a body", {"type": "T"})).decode(),
    ]
    return [Message.new("T", body, to=f"md@{node}", **{"n": str(n)}) for n, body in enumerate(bodies)] + [
        Message.new(None, "nasty header", to=f"md@{node}").with_header(**NASTY_HEADERS)
    ]


def test_one_frame_serves_a_plain_consumer_and_rebuilds_exactly_in_spoolq(broker, tmp_path):
    """The same messages to a plain stomp.py consumer (node C) and to spoolq receive (node B)."""
    node_b, node_c = unique("b"), unique("plain")
    sender = write_node_config(tmp_path / "a", unique("a"), broker)
    receiver = write_node_config(tmp_path / "b", node_b, broker)
    to_b, to_c = messages_for(node_b), messages_for(node_c)
    for message in to_b + to_c:
        root_of(sender).spool("outgoing").put(message)
    md = root_of(receiver).spool("md")
    plain = consuming(broker, f"/queue/spoolq-test.{node_c}")
    with plain as consumer, running(sender, "out"), running(receiver, "in"):
        frames = consumer.wait_for(len(to_c), timeout=60)
        wait_until(lambda: md.count() == len(to_b), timeout=60, what=f"{len(to_b)} messages in md")

    by_n = {headers.get("n", "nasty"): (headers, body) for headers, body in frames}
    for n, message in enumerate(to_c[:-1]):
        headers, body = by_n[str(n)]
        assert body == message.body_bytes  # the body itself, never spoolq's JSON
        assert headers["type"] == "T" and headers["to"] == f"md@{node_c}"
    headers, body = by_n["nasty"]
    assert body == b"nasty header"
    assert headers["a:b"] == "c:d\ne\\f\rg" and headers["Zürich"] == "Ελλάδα 東京"
    assert headers["spoolq-h-reply-to"] == "pe_reply" and headers["spoolq-h-x-custom"] == "kept"

    got = sorted((md.get(name) for name in md.names()), key=lambda m: m.message_id)
    assert [without_trail(m) for m in got] == sorted(
        (envelope.decode(envelope.encode(m)) for m in to_b), key=lambda m: m.message_id
    )
    assert all([e.event for e in trail.parse(m.header["trail"])] == ["shipped", "received"] for m in got)
    assert root_of(receiver).parked_names() == []


def test_a_foreign_json_reply_with_a_body_key_is_stored_as_it_came(broker, tmp_path):
    node = unique("b")
    receiver = write_node_config(tmp_path / "b", node, broker)
    replies = [json.dumps({"body": "done", "msg_type": "reply", "tag": n}).encode() for n in range(3)] + [
        b'{"header": {"type": 1}}',
        b"\xff\xfe not UTF-8",
        b"",
    ]
    publish(broker, f"/queue/spoolq-test.{node}", [(body, {"msg_type": "reply"}) for body in replies])
    incoming = root_of(receiver).spool("incoming")
    with running(receiver, "in"):
        wait_until(lambda: incoming.count() == len(replies), timeout=60, what="the replies")
    got = [incoming.get(name) for name in incoming.names()]
    assert sorted(m.body_bytes for m in got) == sorted(replies)
    assert {m.header.get("msg_type") for m in got} == {"reply"}
    assert all("destination" not in m.header and "message-id" not in m.header for m in got)


def test_over_tls_a_header_name_with_a_colon_or_a_newline_arrives_intact(broker, tmp_path):
    """A TLS link sends through stomp.py's own writer, which escapes values, not names."""
    tls = f'use_tls = true\nca_file = "{broker.ca.cert_file}"\n'
    hosts = [f"127.0.0.1:{broker.stomps_port}"]
    node_b = unique("b")
    sender = write_node_config(tmp_path / "a", unique("a"), broker, hosts=hosts, broker_extra=tls)
    receiver = write_node_config(tmp_path / "b", node_b, broker, hosts=hosts, broker_extra=tls)
    names = {"a:b": "1", "c\nd": "2", "e\\f": "3"}
    sent = Message.new("T", "over TLS", to=f"md@{node_b}").with_header(**names)
    root_of(sender).spool("outgoing").put(sent)
    md = root_of(receiver).spool("md")
    with running(sender, "out"), running(receiver, "in"):
        wait_until(lambda: md.count() == 1, timeout=60, what="the message over TLS")
    assert [without_trail(md.get(name)) for name in md.names()] == [sent]


def without_trail(message: Message) -> Message:
    """The message as its sender wrote it: each hop adds to its trail, and nothing else."""
    return message.with_header(**{trail.TRAIL: None})
