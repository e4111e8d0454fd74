"""``envelope.decode_parts``: what ``decode`` gives, as header, body bytes and text flag, by a shorter road.

The shipper reads each element with it.  For the envelopes ``encode``
writes it skips building the body as a string; for every input, valid or
broken, it must give exactly what ``decode`` gives, or fail with the same
words.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spoolq import envelope
from spoolq.envelope import Parts, decode_parts
from spoolq.errors import MalformedMessage
from spoolq.message import HEADERS, Message

header_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
headers = st.dictionaries(
    st.one_of(header_text, st.sampled_from([*HEADERS, "body", "text", "to"])), header_text, max_size=8
)
bodies = st.one_of(
    st.text(st.characters(blacklist_categories=("Cs",))), st.binary(), st.sampled_from(["", b""])
)
# What breaks an envelope: JSON's own characters, escapes, padding, a control character, a byte no UTF-8 has.
BREAKERS = [
    b'"',
    b"\\",
    b",",
    b"{",
    b"}",
    b":",
    b"=",
    b"\x00",
    b"\n",
    b"\xff",
    b"\xed\xa0\x80",
    b"A",
    b"\\u",
    b" ",
]


def by_decode(data: bytes) -> Parts | str:
    """What ``decode`` makes of ``data``, as parts; or the words of its error."""
    try:
        message = envelope.decode(data)
    except MalformedMessage as exc:
        return str(exc)
    return Parts(dict(message.header), message.body_bytes, isinstance(message.body, str))


def by_parts(data: bytes) -> Parts | str:
    try:
        return decode_parts(data)
    except MalformedMessage as exc:
        return str(exc)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(bodies, headers, st.booleans())
def test_an_encoded_message_gives_its_parts(body, header, compress):
    data = envelope.encode(Message(body, header), compress=compress)
    parts = decode_parts(data)
    assert parts == by_decode(data)
    assert type(parts.header) is dict


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(
    bodies, headers, st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from(BREAKERS), st.integers(0, 2)))
)
def test_a_broken_envelope_gives_what_decode_gives(body, header, edits):
    data = envelope.encode(Message(body, header))
    for at, piece, how in edits[:4]:
        at %= len(data) + 1
        if how == 0:
            data = data[:at] + piece + data[at:]  # inserted
        elif how == 1:
            data = data[:at] + piece + data[at + len(piece) :]  # written over
        else:
            data = data[:at] + data[at + 1 :]  # a byte dropped
    assert by_parts(data) == by_decode(data)


@given(st.binary(max_size=300))
def test_any_bytes_give_what_decode_gives(data):
    assert by_parts(data) == by_decode(data)


@pytest.mark.parametrize(
    "literal",
    [
        b"QQ==",
        b"QR==",
        b"QQ=",
        b"QUJD====",
        b"=QUJD",
        b"QU JD",
        b"QUJD\\nREVG",
        b"QUJ\\u0044",
        b"",
        b"QUJD\\",
    ],
)
def test_base64_bodies_strict_or_not_give_what_decode_gives(literal):
    data = b'{"header":{"to":"md@b"},"body":"' + literal + b'","encoding":"base64"}'
    assert by_parts(data) == by_decode(data)


def test_the_common_envelopes_take_the_short_road():
    """Text bodies with escapes and without, binary ones, with a header and without: none via ``decode``."""
    for message in [
        Message('{"json": "with quotes"}', {"to": "md@b"}),
        Message("plain Zürich text", {"to": "md@b"}),
        Message(b"\x00\xffbinary", {"to": "md@b"}),
        Message("no header"),
        Message(b"\x01 binary, no header"),
    ]:
        data = envelope.encode(message)
        assert envelope._common_parts(data) == by_decode(data), message


def test_a_header_field_named_body_is_read_by_decode_all_the_same():
    data = envelope.encode(Message("x", {"a": "1", "body": "in the header", "to": "md@b"}))
    assert decode_parts(data) == Parts({"a": "1", "body": "in the header", "to": "md@b"}, b"x", True)


def test_raw_bytes_are_the_body_as_they_are():
    assert decode_parts(b"APEL record\n%%\n") == Parts({}, b"APEL record\n%%\n", True)
    assert decode_parts(b"\xff\x00") == Parts({}, b"\xff\x00", False)
