"""Property-based tests: every parser of outside bytes raises only its documented error.

Each parser is fed arbitrary bytes and inputs shaped like what it reads
(envelopes, addresses, tickets, configuration files).  A failure is a crash
an attacker or an unlucky operator can cause: fix it in the parser, with the
documented error, and keep the input in ``tests/corpus/``.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from parsers import ADMISSION_ERRORS, FRAME_HEADERS, PARSERS, parse_only_with, receiver

from spoolq import envelope
from spoolq.message import Message

FUZZ = settings(
    deadline=None,  # a busy machine is slow, not wrong; a hang still fails through pytest-timeout
    max_examples=150,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

NASTY_TEXT = st.sampled_from(
    [
        "\x00",
        "\ud800",
        "\udfff",
        "\\ud800",
        "é",
        "😀",
        "\ufeff",
        "..",
        "/",
        "@",
        "{",
        "[",
        '"',
        "\\",
        " ",
        "\n",
    ]
)
TEXT = st.one_of(st.text(max_size=40), NASTY_TEXT)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    TEXT,
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)
ENVELOPE_KEY = st.one_of(st.sampled_from(["header", "body", "text", "encoding"]), TEXT)
ENVELOPE_OBJECTS = st.dictionaries(
    ENVELOPE_KEY,
    st.one_of(
        JSON_VALUES,
        st.dictionaries(TEXT, st.one_of(TEXT, JSON_VALUES), max_size=6),
        st.sampled_from(["base64", "zlib", "utf8", "zlib+base64", "utf8+zlib+base64", "base64+base64"]),
    ),
    max_size=5,
)


def dumped(value: object) -> bytes:
    """``value`` as JSON bytes, lone surrogates escaped as \\udXXX (as other writers may)."""
    return json.dumps(value, ensure_ascii=True).encode()


@st.composite
def envelope_bytes(draw) -> bytes:
    data = dumped(draw(ENVELOPE_OBJECTS))
    cut = draw(st.one_of(st.none(), st.integers(0, len(data))))  # sometimes truncated
    nest = draw(st.sampled_from([0, 1, 3, 33, 2000]))  # sometimes past the bound, or the recursion limit
    if draw(st.booleans()):
        data = data[:-1] + b',"body":' + b"[" * nest + b"]" * nest + b"}" if len(data) > 2 else data
    return data if cut is None else data[:cut]


ANY_BYTES = st.one_of(st.binary(max_size=400), envelope_bytes())


@FUZZ
@given(ANY_BYTES)
def test_envelope_decode_raises_only_malformed_message(data):
    parse_only_with(*PARSERS["envelope.decode"], data)


@FUZZ
@given(ANY_BYTES)
def test_header_of_never_raises_and_gives_a_header_of_strings_or_none(data):
    header = parse_only_with(*PARSERS["envelope.header_of"], data)
    assert header is None or all(type(k) is str and type(v) is str for k, v in header.items())


@FUZZ
@given(ANY_BYTES)
def test_what_decodes_can_be_written_back_and_reads_the_same(data):
    message = parse_only_with(*PARSERS["envelope.decode"], data)
    if message is not None:
        again = envelope.decode(envelope.encode(message))
        assert (again.body or "", dict(again.header)) == (message.body or "", dict(message.header))


@FUZZ
@given(
    st.dictionaries(TEXT, TEXT, max_size=6),
    st.one_of(st.text(max_size=60), st.binary(max_size=60)),
    st.booleans(),
)
def test_every_message_that_can_be_encoded_decodes_to_itself(header, body, compress):
    try:
        data = envelope.encode(Message(body, header), compress=compress)
    except UnicodeEncodeError:
        return  # a lone surrogate cannot be written as UTF-8: refused before it reaches a spool
    message = envelope.decode(data)
    assert dict(message.header) == header and (message.body or "") == (body or "")


@pytest.fixture(scope="module")
def admitting(tmp_path_factory):
    return receiver(tmp_path_factory.mktemp("receiver"))


@FUZZ
@given(ANY_BYTES)
def test_the_receivers_frame_admission_raises_only_spoolq_errors(admitting, data):
    for headers in FRAME_HEADERS:
        parse_only_with(lambda body, headers=headers: admitting._admit(headers, body), ADMISSION_ERRORS, data)


@FUZZ
@given(st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=8), ANY_BYTES)
def test_a_spoolq_frame_with_any_headers_raises_only_spoolq_errors(admitting, headers, data):
    """The header list and the body kind are read from the frame's headers: any of them, any bytes."""
    headers = {**headers, "spoolq-envelope": headers.get("spoolq-envelope", "text")}
    if "spoolq-header" not in headers:
        headers["spoolq-header"] = json.dumps(list(headers)[:3])
    parse_only_with(lambda body: admitting._admit(headers, body), ADMISSION_ERRORS, data)


@FUZZ
@given(
    st.one_of(
        st.text(max_size=80),
        st.builds(
            lambda c, n: f"{c}@{n}",
            TEXT,
            st.one_of(TEXT, st.from_regex(r"[a-z0-9./_-]{1,20}", fullmatch=True)),
        ),
    )
)
def test_address_parse_raises_only_routing_error_and_accepts_no_path_in_a_node(text):
    address = parse_only_with(*PARSERS["Address.parse"], text.encode("utf-8", "surrogatepass"))
    if address is not None and address.node is not None:
        assert "/" not in address.node and ".." not in address.node and "@" not in address.node
        assert not address.node.startswith((".", "-"))


@FUZZ
@given(st.one_of(st.text(max_size=140), st.from_regex(r"[0-9a-f./]{1,24}", fullmatch=True)))
def test_spool_and_element_names_raise_only_spool_error_and_never_name_a_path(text):
    data = text.encode("utf-8", "surrogatepass")
    name = parse_only_with(*PARSERS["check_spool_name"], data)
    if name is not None:
        assert "/" not in name and name not in (".", "..") and "\x00" not in name
    parse_only_with(*PARSERS["layout element names"], data)


PYTHON_LITERALS = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20), st.binary(max_size=10)
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.one_of(st.text(max_size=10), st.integers()), inner, max_size=4),
    ),
    max_leaves=12,
)


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=300), PYTHON_LITERALS.map(lambda v: repr(v).encode()), JSON_VALUES.map(dumped)
    )
)
def test_udp_ticket_parser_raises_only_ticket_error(data):
    parse_only_with(*PARSERS["parse_ticket"], data)


def toml_value(value: object) -> str:
    """``value`` written as a TOML value (JSON's string escapes are TOML's)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return '""'
    if isinstance(value, (int, float)):
        return json.dumps(value).replace("Infinity", "inf").replace("NaN", "nan")
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


CONFIG_KEYS = st.sampled_from(
    [
        *("root", "node", "durable", "granularity", "metrics_dir", "metrics_interval", "security"),
        *("handler", "spool", "workers", "options", "types", "retry", "reply_spool", "dropbox", "poll"),
        *("max_size", "lock_timeout", "tick", "enable", "max_attempts", "backoff", "mb_servers"),
        *("queues", "processors", "in_queue", "out_queue", "n_threads", "params", "module", "name"),
    ]
)
CONFIG_TREES = st.recursive(
    st.one_of(SCALARS, st.sampled_from(["pe", "~", "~root/x", "~\x00", "../..", "echo", "\x00"])),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.one_of(CONFIG_KEYS, TEXT), inner, max_size=4)
    ),
    max_leaves=16,
)


@st.composite
def toml_files(draw) -> bytes:
    lines = []
    for key, value in draw(st.dictionaries(st.one_of(CONFIG_KEYS, TEXT), CONFIG_TREES, max_size=5)).items():
        lines.append(f"{json.dumps(key)} = {toml_value(value)}")
    for name, table in draw(
        st.dictionaries(TEXT, st.dictionaries(CONFIG_KEYS, CONFIG_TREES, max_size=4), max_size=2)
    ).items():
        lines.append(f"[components.{json.dumps(name)}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in table.items()]
    return "\n".join(lines).encode("utf-8", "surrogatepass")


@FUZZ
@given(st.one_of(st.binary(max_size=300), toml_files()))
def test_toml_configuration_raises_only_config_error(data):
    parse_only_with(*PARSERS["TOML configuration"], data)


@FUZZ
@given(st.one_of(st.binary(max_size=300), st.dictionaries(CONFIG_KEYS, CONFIG_TREES, max_size=4).map(dumped)))
def test_panda_configuration_raises_only_config_error(data):
    parse_only_with(*PARSERS["PanDA configuration"], data)
