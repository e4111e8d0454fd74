"""The envelope against the EMI ``messaging`` package: each reads what the other writes."""

import pytest
from messaging.message import Message as EmiMessage
from messaging.message import deserialize

from spoolq import envelope
from spoolq.errors import MalformedMessage
from spoolq.message import Message

CASES = {
    "text": ("grüße, world\n", {"type": "CACHE_WRITTEN"}),
    "binary": (bytes(range(256)), {"type": "BLOB"}),
    "headers only": ("", {"type": "PING", "reply-to": "pe_reply", "x": "y z"}),
    "empty": ("", {}),
    "ascii bytes": (b"plain ascii bytes", {}),
    "long text": ("abc" * 2000, {"content-type": "text/plain"}),
    "long binary": (b"\x00\xff" * 3000, {}),
}


def _emi(body, header):
    return EmiMessage(body=body, header=header)


def same_body(got, expected) -> bool:
    """Equal bodies; an empty body has no text flag in the format, so b"" equals ""."""
    if not got and not expected:
        return True
    return got == expected and type(got) is type(expected)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("compression", [None, "zlib"])
def test_spoolq_reads_what_messaging_writes(case, compression):
    body, header = CASES[case]
    options = {"compression": compression} if compression else {}
    data = _emi(body, header).serialize(options)
    message = envelope.decode(data)
    assert same_body(message.body, body)
    assert dict(message.header) == header


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("compress", [False, True])
def test_messaging_reads_what_spoolq_writes(case, compress):
    body, header = CASES[case]
    emi = deserialize(envelope.encode(Message(body, header), compress=compress))
    assert same_body(emi.body, body)
    assert emi.header == header
    assert emi.text is (isinstance(body, str) and body != "")


def test_zlib_is_used_when_it_pays_and_messaging_undoes_it():
    data = envelope.encode(Message("x" * 5000), compress=True)
    assert b'"encoding":"utf8+zlib+base64"' in data
    assert len(data) < 500
    assert deserialize(data).body == "x" * 5000


def test_base64_envelope_written_by_hand_decodes():
    message = envelope.decode(b'{"body":"AAEC","encoding":"base64"}')
    assert message.body == b"\x00\x01\x02"


@pytest.mark.parametrize(
    "data, reason",
    [
        (b'{"header": {"a": 1}, "body": "x"}', "'header' must be an object of strings"),
        (b'{"body": 5}', "'body' must be a string"),
        (b'{"body": "x", "text": "yes"}', "'text' must be true or false"),
        (b'{"body": "x", "encoding": "lz4"}', "lz4 is not supported"),
        (b'{"body": "!!!", "encoding": "base64"}', "does not decode"),
        (b'{"body": "eA==", "encoding": "zlib+base64"}', "does not decode"),
        (b'{"header": {}, "body": "x", "extra": 1}', "unknown keys ['extra']"),
        (b'{"header": {"a": "b"}, "body": "unterminated', "not valid JSON"),
    ],
)
def test_malformed_envelope_names_the_element(data, reason):
    with pytest.raises(MalformedMessage) as caught:
        envelope.decode(data, where="pe/6b041800/6b04181ed9a35e")
    assert reason in caught.value.reason
    assert str(caught.value).startswith("pe/6b041800/6b04181ed9a35e: ")


def test_malformed_element_read_from_a_spool_names_its_path(tmp_path):
    from spoolq import Spool

    spool = Spool(tmp_path / "q", durable=False)
    name = spool.put(b'{"header": "nope"}')
    with pytest.raises(MalformedMessage, match=f"{spool.path}/{name}"):
        spool.get(name)


@pytest.mark.parametrize("case", CASES)
def test_header_of_reads_the_header_of_what_either_side_writes(case):
    body, header = CASES[case]
    assert envelope.header_of(_emi(body, header).serialize()) == header
    assert envelope.header_of(envelope.encode(Message(body, header))) == header


@pytest.mark.parametrize(
    "data, header",
    [
        (b'{"body": "x", "header": {"to": "md@b"}}', {"to": "md@b"}),  # header last: decoded whole
        (b'  {\n "header" : {"to": "md@b"}, "body": "\xc3\xa9"}', {"to": "md@b"}),
        (b'{"body": "no header"}', {}),
        (b"raw bytes of an SSM spool", None),
        (b'{"header": {"a": 1}, "body": "x"}', None),  # malformed: not an envelope to route by
        (b'{"header": "nope"}', None),
        (b'{"header": {"a": "b"', None),
    ],
)
def test_header_of_falls_back_to_the_whole_decode(data, header):
    assert envelope.header_of(data) == header
