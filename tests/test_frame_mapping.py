"""A message on a STOMP frame: header to frame headers, body to frame body, and back exactly.

The frame's escaping (:func:`spoolq.shippers.link._send_frame`) and stomp.py's
parser are in the loop, so a header with ``:``, CR or LF is checked as the
broker would pass it on; the broker itself is in tests/test_frame_mapping_broker.py.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stomp.utils import parse_frame

from spoolq import envelope
from spoolq.errors import MalformedMessage
from spoolq.message import HEADERS, Message
from spoolq.shippers.frame_mapping import (
    ENVELOPE,
    HEADER_NAMES,
    SPOOLQ_ID,
    WHOLE,
    as_parked,
    from_frame,
    is_from_spoolq,
    to_frame,
)
from spoolq.shippers.link import _send_frame

# Header text as an envelope may hold it: any Unicode but lone surrogates.
header_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
bodies = st.one_of(st.text(st.characters(blacklist_categories=("Cs",))), st.binary())
headers = st.dictionaries(
    st.one_of(header_text.filter(bool), st.sampled_from([*HEADERS, "spoolq-id", "empa-id", "destination"])),
    header_text,
    max_size=12,
)


def through_the_wire(message: Message) -> Message:
    """``message`` sent as spoolq sends it, parsed as stomp.py parses a MESSAGE frame, rebuilt."""
    body, mapped = to_frame(message)
    wire = _send_frame("/queue/q", body, {**mapped, "persistent": "true", SPOOLQ_ID: "id-1"})
    frame = parse_frame(wire.removesuffix(b"\x00"))
    return from_frame(frame.headers, frame.body)


def stored(message: Message) -> Message:
    """The message as the spool keeps it (an empty body reads back as empty text)."""
    return envelope.decode(envelope.encode(message))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(bodies, headers)
def test_envelope_to_frame_to_envelope_is_identity(body, header):
    message = stored(Message(body, header))
    assert through_the_wire(message) == message
    assert envelope.encode(through_the_wire(message)) == envelope.encode(message)


def test_the_body_is_the_frame_body_and_the_header_frame_headers():
    message = Message('Zürich {"body": 1}', {"type": "CACHE_WRITTEN", "message-id": "m1", "a:b": "c\nd"})
    body, headers = to_frame(message)
    assert body == 'Zürich {"body": 1}'.encode()
    assert headers["type"] == "CACHE_WRITTEN"
    assert headers["a:b"] == "c\nd"
    assert headers["spoolq-h-message-id"] == "m1"  # the broker owns message-id
    assert "message-id" not in headers
    assert headers[ENVELOPE] == "text"
    assert json.loads(headers[HEADER_NAMES]) == ["type", "message-id", "a:b"]


def test_a_binary_body_says_so():
    body, headers = to_frame(Message(b"\xff\x00\xfe"))
    assert (body, headers[ENVELOPE]) == (b"\xff\x00\xfe", "binary")
    assert from_frame(headers, body) == Message(b"\xff\x00\xfe")


UNCARRIABLE = [{"a": "nul\x00inside"}, {"": "empty name"}, {"é" * 150: "300 bytes of name"}]


@pytest.mark.parametrize("header", UNCARRIABLE)
def test_a_header_no_frame_can_carry_sends_the_message_whole(header):
    message = Message("body", header)
    body, headers = to_frame(message)
    assert headers == {ENVELOPE: WHOLE}
    assert envelope.decode(body) == message
    assert through_the_wire(message) == message


def test_a_foreign_frame_is_its_body_even_when_it_looks_like_an_envelope():
    body = json.dumps({"body": "x", "msg_type": "reply", "tag": 3}).encode()
    frame_headers = {"destination": "/queue/r", "message-id": "T_1", "subscription": "s", "msg_type": "reply"}
    assert not is_from_spoolq(frame_headers)
    message = from_frame(frame_headers, body)
    assert message.body_bytes == body
    assert message.header == {"msg_type": "reply"}
    assert envelope.decode(envelope.encode(message)).body_bytes == body


def test_a_foreign_envelope_shaped_body_is_not_read_as_an_envelope():
    body = envelope.encode(Message("inner", {"type": "T"}))
    assert from_frame({"destination": "/queue/r"}, body).body_bytes == body


def test_an_older_spoolq_frame_carries_the_envelope_as_its_body():
    message = Message("old", {"message-id": "m"})
    assert from_frame({SPOOLQ_ID: "m"}, envelope.encode(message)) == message


@pytest.mark.parametrize(
    "headers, reason",
    [
        ({ENVELOPE: "text", HEADER_NAMES: '["gone"]'}, "lacks the header 'gone'"),
        ({ENVELOPE: "text", HEADER_NAMES: "not json"}, "not a JSON array"),
        ({ENVELOPE: "zip"}, "not text, binary or whole"),
        ({ENVELOPE: "text", HEADER_NAMES: json.dumps(["f"] * 300)}, "more than 256"),
        ({ENVELOPE: "text", HEADER_NAMES: '["big"]', "big": "x" * 70_000}, "past the header limits"),
    ],
)
def test_an_inconsistent_spoolq_frame_is_refused_with_the_reason_and_parked_whole(headers, reason):
    with pytest.raises(MalformedMessage, match=reason):
        from_frame(headers, b"body")
    if headers[ENVELOPE] == "text":
        parked = envelope.decode(as_parked({**headers, "keep": "me"}, b"body"))
        assert (parked.body, parked.header["keep"]) == ("body", "me")


def test_text_that_is_not_utf8_is_refused():
    with pytest.raises(MalformedMessage, match="not UTF-8"):
        from_frame({ENVELOPE: "text"}, b"\xff")


@pytest.mark.parametrize(
    "header, whole",
    [
        ({"big": "x" * 40_000}, False),
        ({"big": "x" * 50_000}, True),
        ({"big": "é" * 20_000}, False),  # 40,000 bytes
        ({"big": "é" * 25_000}, True),  # 50,000 bytes: counted in bytes, not characters
        ({"n" * 50: "short"}, False),
        ({"é" * 100: "200 bytes of name"}, False),
        ({"é" * 101: "202 bytes of name"}, True),
    ],
)
def test_the_frame_header_bounds_are_counted_in_utf8_bytes(header, whole):
    message = Message("body", header)
    _body, headers = to_frame(message)
    assert (headers == {ENVELOPE: WHOLE}) is whole
    assert through_the_wire(message) == message
