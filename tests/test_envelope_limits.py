"""The bounds on what a message may carry: just within each is read, just past it is MalformedMessage."""

from __future__ import annotations

import base64
import json
import zlib

import pytest

from spoolq import envelope
from spoolq.errors import MalformedMessage
from spoolq.limits import (
    MAX_HEADER_NAME,
    MAX_HEADER_VALUE,
    MAX_HEADERS,
    MAX_INFLATED_BODY,
    MAX_NESTING,
    nests_deeper_than,
)


def with_header(header: dict) -> bytes:
    return json.dumps({"header": header, "body": "x"}).encode()


def refused(data: bytes) -> str:
    with pytest.raises(MalformedMessage) as caught:
        envelope.decode(data, where="ROOT/pe/x")
    assert envelope.header_of(data) is None
    return caught.value.reason


def test_header_counts_and_sizes_up_to_the_bounds_are_read():
    fields = {f"h{i}": "v" for i in range(MAX_HEADERS - 1)} | {"n" * MAX_HEADER_NAME: "v" * MAX_HEADER_VALUE}
    message = envelope.decode(with_header(fields))
    assert len(message.header) == MAX_HEADERS and envelope.header_of(with_header(fields)) == fields


def test_one_header_field_too_many_is_refused():
    reason = refused(with_header({f"h{i}": "v" for i in range(MAX_HEADERS + 1)}))
    assert f"{MAX_HEADERS + 1} fields, more than {MAX_HEADERS}" in reason


def test_a_header_value_or_name_one_character_too_long_is_refused():
    assert f"more than {MAX_HEADER_VALUE}" in refused(with_header({"type": "v" * (MAX_HEADER_VALUE + 1)}))
    assert f"more than {MAX_HEADER_NAME}" in refused(with_header({"n" * (MAX_HEADER_NAME + 1): "v"}))


@pytest.mark.parametrize("where", ["header", "body"])
def test_nesting_past_the_bound_is_refused_before_parsing(where):
    deep = b"[" * (MAX_NESTING + 1) + b"]" * (MAX_NESTING + 1)
    data = b'{"header":{"type":' + deep + b'},"body":"x"}' if where == "header" else b'{"body":' + deep + b"}"
    assert f"nests deeper than {MAX_NESTING} levels" in refused(data)


def test_brackets_inside_strings_do_not_count_as_nesting():
    body = json.dumps({"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]})
    data = json.dumps({"header": {"type": "T"}, "body": body, "text": True}).encode()
    assert envelope.decode(data).body == body
    assert not nests_deeper_than(b'"' + b"[" * 100 + b'"', 2)
    assert not nests_deeper_than(b'["\\"[[[[[[", 1]', 1)
    assert nests_deeper_than(b"[[[", 2)


def test_a_lone_surrogate_escaped_or_raw_is_refused_and_a_pair_is_read():
    assert "lone surrogate" in refused(b'{"header":{"type":"\\ud800"},"body":"x"}')
    assert "lone surrogate" in refused(b'{"body":"\\udfff","text":true}')
    assert "not valid JSON" in refused(b'{"header":{"type":"\xed\xa0\x80"},"body":"x"}')
    assert envelope.decode(b'{"body":"\\ud83d\\ude00","text":true}').body == "\U0001f600"


def test_a_body_that_inflates_past_the_bound_is_refused_unread():
    bomb = base64.b64encode(zlib.compress(b"\0" * (MAX_INFLATED_BODY + 1))).decode()
    data = json.dumps({"body": bomb, "encoding": "zlib+base64"}).encode()
    assert f"inflates to more than {MAX_INFLATED_BODY} bytes" in refused(data)


def test_a_truncated_zlib_body_is_refused():
    short = base64.b64encode(zlib.compress(b"hello" * 100)[:-8]).decode()
    data = json.dumps({"body": short, "encoding": "zlib+base64"}).encode()
    assert "does not decode as zlib" in refused(data)
