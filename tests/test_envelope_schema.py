"""The shipped JSON Schema accepts what spoolq and messaging write and rejects bad envelopes."""

import json
from importlib import resources

import jsonschema
import pytest
from messaging.message import Message as EmiMessage

from spoolq import envelope
from spoolq.message import Message


@pytest.fixture(scope="module")
def validator():
    text = resources.files("spoolq").joinpath("schema/envelope.schema.json").read_text()
    schema = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize(
    "message, compress",
    [
        (Message.new("CACHE_WRITTEN", {"file": "a", "size": 3}, reply_to="pe_reply"), False),
        (Message.new("BLOB", b"\x00\xff" * 300), True),
        (Message.new("TEXT", "é" * 400), True),
        (Message(), False),
        (Message(b"ascii"), False),
    ],
)
def test_encoded_messages_validate(validator, message, compress):
    validator.validate(json.loads(envelope.encode(message, compress=compress)))


def test_messaging_output_validates(validator):
    data = EmiMessage(body=b"\x01" * 400, header={"type": "X"}).serialize({"compression": "zlib"})
    validator.validate(json.loads(data))


@pytest.mark.parametrize(
    "bad",
    [
        {"header": {"a": 1}},
        {"body": 3},
        {"text": "true"},
        {"encoding": "lz4"},
        {"body": "x", "other": 1},
        [],
    ],
)
def test_bad_envelopes_are_rejected(validator, bad):
    assert not validator.is_valid(bad)
