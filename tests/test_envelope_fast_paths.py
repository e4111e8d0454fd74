"""The envelope's fast paths give exactly what the JSON encoder and decoder give."""

from __future__ import annotations

import json

import pytest

from spoolq import envelope
from spoolq.errors import MalformedMessage
from spoolq.message import Message

TRICKY = ["plain", 'quote " inside', "back\\slash", "new\nline\ttab", "\x00\x1f\x7f", "é€😀", "\u2028", "/"]


@pytest.mark.parametrize("text", TRICKY)
def test_a_text_envelope_is_what_the_json_encoder_writes(text):
    message = Message(text, {text: text, "type": "T", "k": ""})
    as_object = {"header": dict(message.header), "body": text, "text": True}
    reference = json.dumps(as_object, ensure_ascii=False, separators=(",", ":"))
    assert envelope.encode(message) == reference.encode("utf-8")
    assert envelope.decode(envelope.encode(message)) == message


def test_a_text_envelope_without_header():
    assert envelope.encode(Message("x")) == b'{"body":"x","text":true}'


@pytest.mark.parametrize(
    "data",
    [b' {"body":"x","text":true}', b'{"body":"x","text":true}\n', b'{"body":"x","text":true} \t\r\n'],
)
def test_whitespace_around_the_object_still_decodes(data):
    assert envelope.decode(data) == Message("x")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"body":"x"} {"body":"y"}', "Extra data"),
        (b'{"body":"x",}', "Expecting property name"),
        (b'{"body":', "Expecting value"),
    ],
)
def test_invalid_json_is_worded_by_the_decoder(data, reason):
    with pytest.raises(MalformedMessage, match=reason):
        envelope.decode(data)
