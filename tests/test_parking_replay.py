"""Parking keeps the original bytes and the reason; replay puts back exactly what arrived."""

from pathlib import Path

import pytest

from spoolq import Message, SpoolRoot, envelope
from spoolq.component import intake
from spoolq.spool.parking import discard, iter_parked, park, replay


@pytest.fixture
def root(root_dir):
    return SpoolRoot(root_dir, durable=False)


@pytest.mark.parametrize(
    "original",
    [
        b'{"header": {"type": 7}}',  # malformed envelope
        b"\x00\xff raw binary",
        b"",
        None,  # a proper envelope, filled in below
    ],
)
def test_replay_puts_back_the_byte_exact_original(root, original):
    spool = root.spool("pe")
    if original is None:
        original = spool.read(spool.put(Message.new("CACHE_WRITTEN", {"f": 1})))
        spool.lock(next(spool.names()))
        spool.remove(next(spool.names()))
    park(root, "pe", original, "handler said no", element="6b041800/6b04181ed9a35e", attempts=3)
    [parked] = list(iter_parked(root, "pe"))
    assert (parked.reason, parked.attempts, parked.origin) == ("handler said no", 3, "pe")
    assert parked.original == original
    assert [p.name for p in replay(root, "pe", [parked.name])] == [parked.name]
    [name] = list(spool.names())
    assert spool.read(name) == original
    assert root.parked("pe").count() == 0


def test_park_keeps_type_and_message_id_of_a_readable_original(root):
    message = Message.new("CACHE_MISSED", "body")
    park(root, "pe", root.spool("pe").read(root.spool("pe").put(message)), "no handler")
    [parked] = list(iter_parked(root, "pe"))
    assert parked.type == "CACHE_MISSED"
    assert parked.message_id == message.message_id


def test_replay_selects(root):
    park(root, "pe", b"raw, no type", "r")
    for kind in ("A", "B"):
        data = root.spool("tmp").read(root.spool("tmp").put(Message.new(kind, kind)))
        park(root, "pe", data, "r")
    back = list(replay(root, "pe", [p.name for p in iter_parked(root, "pe") if p.type == "B"]))
    assert [p.type for p in back] == ["B"]
    assert root.parked("pe").count() == 2


def test_discard_deletes_the_selected_and_leaves_what_a_replay_holds(root):
    held = park(root, "pe", b"being replayed", "x")
    park(root, "pe", b"drop", "x")
    park(root, "pe", b"keep", "y")
    assert root.parked("pe").lock(held)  # a replay running beside it has this one
    gone = list(discard(root, "pe", [p.name for p in iter_parked(root, "pe") if p.reason == "x"]))
    assert [p.original for p in gone] == [b"drop"]
    root.parked("pe").unlock(held)
    assert sorted(p.original for p in iter_parked(root, "pe")) == [b"being replayed", b"keep"]
    assert root.spool("pe").count() == 0  # nothing went back


def test_replay_leaves_an_element_that_is_not_a_parked_envelope_as_it_was(root):
    stray = root.parked("pe").put(b'{"header": 7}')  # a malformed envelope, put there by hand
    assert list(replay(root, "pe", [stray])) == []
    assert root.parked("pe").read(stray) == b'{"header": 7}'
    assert root.parked("pe").stats().locked == 0  # released, not left locked
    assert root.spool("pe").count() == 0


def park_as_oversize(root, original: bytes) -> str:
    """Put ``original`` into spool pe and let intake park it for its size; its element name."""
    spool = root.spool("pe")
    name = spool.put(original)
    verdict = intake.take(spool, root, name, max_size=5)
    assert verdict.parked and "exceeds max_size 5" in verdict.reason
    assert spool.count() == 0
    return name


def test_replay_of_a_message_parked_for_its_size_puts_back_the_bytes_that_arrived(root):
    original = Message.new("T", "hello world").with_header(**{"x": "y"})
    data = envelope.encode(original)
    park_as_oversize(root, data)
    (parked,) = iter_parked(root, "pe")
    assert parked.aside is not None and parked.original == b""
    assert [p.name for p in replay(root, "pe", [parked.name])] == [parked.name]
    spool = root.spool("pe")
    (name,) = spool.names()
    assert spool.read(name) == data
    assert root.parked("pe").count() == 0
    assert list(Path(root.path, "parked", "pe", "oversize").iterdir()) == []


def test_discard_of_a_message_parked_for_its_size_deletes_the_file_set_aside(root):
    park_as_oversize(root, b"x" * 100)
    (parked,) = iter_parked(root, "pe")
    assert [p.name for p in discard(root, "pe", [parked.name])] == [parked.name]
    assert root.parked("pe").count() == 0
    assert list(Path(root.path, "parked", "pe", "oversize").iterdir()) == []
