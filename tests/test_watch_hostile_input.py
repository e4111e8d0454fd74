"""Input built to stop a component is parked with its reason, and the messages behind it are served.

Each element here is one a hostile sender can make: an envelope nested
100,000 levels deep (Python's JSON parser recurses once per level), or a
``reply-to`` whose node part is a path or a broker destination.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from spoolq.config import ComponentConfig
from spoolq.message import Message
from spoolq.spool import SpoolRoot, parking
from tests.waiting import wait_until

DEPTH = 100_000
NESTED_IN_HEADER = b'{"header":{"type":' + b"[" * DEPTH + b"]" * DEPTH + b'},"body":"x"}'
NESTED_IN_BODY = b'{"header":{"type":"PING"},"body":' + b"[" * DEPTH + b"]" * DEPTH + b"}"


@pytest.fixture
def root(root_dir: Path) -> SpoolRoot:
    return SpoolRoot(root_dir, granularity=1)


def drop(root: SpoolRoot, name: str, data: bytes) -> None:
    """Write an element the way any program may: temporary, then rename."""
    directory = Path(root.spool("pe").path) / "10000000"
    directory.mkdir(exist_ok=True)
    (directory / (name + ".tmp")).write_bytes(data)
    os.rename(directory / (name + ".tmp"), directory / name)


def _peek(root: SpoolRoot, spool: str) -> list[Message]:
    target = root.spool(spool)
    return [target.get(name) for name in target.names()]


@pytest.mark.parametrize("data", [NESTED_IN_HEADER, NESTED_IN_BODY], ids=["in the header", "in the body"])
def test_an_envelope_nested_100000_deep_is_parked_and_the_next_message_is_handled(root, serving, data):
    serving(ComponentConfig(name="pe", spool="pe", handler="echo"), root)
    drop(root, "10000000000001", data)
    good = Message.new("PING", "behind the poison")
    root.spool("pe").put(good)
    wait_until(lambda: list(parking.iter_parked(root, "pe")), what="the deep envelope parked")
    wait_until(lambda: _peek(root, "pe_reply"), what="the reply to the good message")
    (parked,) = parking.iter_parked(root, "pe")
    assert "nests deeper than" in parked.reason
    assert parked.original == data  # kept whole, for the operator
    assert [reply.correlation_id for reply in _peek(root, "pe_reply")] == [good.message_id]
    wait_until(lambda: root.spool("pe").count() == 0, what="the input spool emptied")


@pytest.mark.parametrize("reply_to", ["x@a/b", "x@../../exchange/amq.topic/k"])
def test_a_reply_to_naming_no_valid_node_is_parked_and_never_written_to_outgoing(root, serving, reply_to):
    serving(ComponentConfig(name="pe", spool="pe", handler="echo"), root, node="node2")
    root.spool("pe").put(Message.new("PING", "hostile", reply_to=reply_to))
    good = Message.new("PING", "fine", reply_to="client@node1")
    root.spool("pe").put(good)
    wait_until(lambda: list(parking.iter_parked(root, "pe")), what="the hostile message parked")
    wait_until(lambda: _peek(root, "outgoing"), what="the good reply in the outgoing spool")
    (parked,) = parking.iter_parked(root, "pe")
    assert "is not a valid node name" in parked.reason
    (reply,) = _peek(root, "outgoing")
    assert reply.header["to"] == "client@node1" and reply.correlation_id == good.message_id


def test_a_reply_that_cannot_be_encoded_parks_its_request_alone(root, serving):
    handler = "tests.watch_handlers:reply_unwritable_to_poison"
    serving(ComponentConfig(name="pe", spool="pe", handler=handler), root)
    root.spool("pe").put(Message.new("PING", "poison"))
    good = Message.new("PING", "fine")
    root.spool("pe").put(good)
    wait_until(lambda: list(parking.iter_parked(root, "pe")), what="the request parked")
    wait_until(lambda: _peek(root, "pe_reply"), what="the reply to the good message")
    (parked,) = parking.iter_parked(root, "pe")
    assert "cannot encode the handler's output" in parked.reason and "surrogate" in parked.reason
    assert [reply.body for reply in _peek(root, "pe_reply")] == ["fine"]
