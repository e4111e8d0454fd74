"""A message on a STOMP frame: its header as frame headers, its body as the frame body.

This is how the EMI messaging tools put a message on the wire, so that any
STOMP consumer (a PanDA message processor, a script with stomp.py) sees the
message itself, never spoolq's on-disk JSON.  A receiving spoolq rebuilds
exactly the message that was sent:

``spoolq-envelope``  set by spoolq alone, and the only thing a receiver
                     decides by (it never guesses from the body's bytes):
                     ``text`` (the body is UTF-8 text), ``binary`` (bytes), or
                     ``whole`` (the body is the whole envelope, for a header
                     no frame can carry: see below)
``spoolq-header``    the names of the message's header fields, in order, as
                     a JSON array: they tell the message's own fields from
                     those a broker adds on the way
each field           a frame header of the same name, escaped as STOMP 1.2
                     requires (``\\``, ``:``, CR, LF); a name that STOMP or a
                     broker owns (``message-id``, ``content-type``,
                     ``timestamp``, ``reply-to``, ``persistent``, ``spoolq-*``
                     ...: :data:`OWNED`) travels as ``spoolq-h-NAME``

A header that a frame cannot carry (a NUL, an empty name, a name longer than
:data:`MAX_FRAME_HEADER_NAME` UTF-8 bytes, more than :data:`MAX_FRAME_HEADER_BYTES`
of header in all) sends the message ``whole``: the envelope as the body, still
lossless.  A frame with ``spoolq-id`` and no ``spoolq-envelope`` comes from a
spoolq of an earlier release, which sent every message so, and is read
``whole`` too.

A frame with neither header comes from a foreign sender: its body is the
message body, byte for byte (text when it is UTF-8), and its headers, less
those of the transport (:data:`TRANSPORT_HEADERS`), become the message's
header.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import NamedTuple

from spoolq import envelope
from spoolq.errors import MalformedMessage
from spoolq.limits import MAX_HEADER_NAME, MAX_HEADER_VALUE, MAX_HEADERS
from spoolq.message import Message

#: The frame header that says a spoolq sender mapped this frame, and how.
ENVELOPE = "spoolq-envelope"
#: The frame header listing the message's header names (a JSON array).
HEADER_NAMES = "spoolq-header"
#: Set by every spoolq sender (the receiver's duplicate check): with no ENVELOPE, an older spoolq.
SPOOLQ_ID = "spoolq-id"
#: The element's name in its spool, sent as APEL SSM's sender sends it (its receiver records it).
EMPA_ID = "empa-id"
TEXT, BINARY, WHOLE = "text", "binary", "whole"
#: The prefix of a message header whose own name STOMP or a broker owns.
RENAMED = "spoolq-h-"

#: Names STOMP or a broker gives a meaning to (and may drop, check or overwrite) on SEND or MESSAGE.
OWNED = frozenset(
    {
        "ack", "app-id", "content-encoding", "content-length", "content-type", "destination", "empa-id",
        "expiration", "expires", "host", "id", "message-id", "nack", "persistent", "priority", "receipt",
        "receipt-id", "redelivered", "reply-to", "subscription", "timestamp", "transaction", "user-id",
    }
)  # fmt: skip
#: Name prefixes a broker or spoolq keeps for itself (RabbitMQ's amqp- and x-, ActiveMQ's JMS).
OWNED_PREFIXES = ("spoolq-", "amqp-", "x-", "jms", "activemq.")
#: Frame headers of the transport, never a foreign message's own.
TRANSPORT_HEADERS = frozenset(
    {"destination", "subscription", "ack", "message-id", "content-length", "redelivered", "receipt"}
    | {"persistent"}
)
#: RabbitMQ keeps header names as AMQP short strings (255 bytes); beyond this a message goes whole.
MAX_FRAME_HEADER_NAME = 200
#: Brokers bound a frame's header block (RabbitMQ: 100 KiB); beyond this a message goes whole.
MAX_FRAME_HEADER_BYTES = 48 * 1024
# Built once: json.dumps with arguments builds an encoder per call, a measurable part of a send.
_NAMES_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def frame_name(name: str) -> str:
    """The frame header that carries the message header ``name``."""
    lowered = name.lower()
    if lowered in OWNED or lowered.startswith(OWNED_PREFIXES):
        return RENAMED + name
    return name


def to_frame(message: Message) -> tuple[bytes, dict[str, str]]:
    """The frame body and the spoolq headers that carry ``message``."""
    headers = _carrying(message.header, isinstance(message.body, str))
    if headers is None:
        return envelope.encode(message), {ENVELOPE: WHOLE}
    return message.body_bytes, headers


def parts_to_frame(header: Mapping[str, str], body: bytes, text: bool) -> tuple[bytes, dict[str, str]]:
    """:func:`to_frame` of a message given as its parts (:func:`spoolq.envelope.decode_parts`).

    The body's bytes go on the frame as they are: a sender never builds
    the body as a string only to encode it again.  ``text``: the body is
    UTF-8 text (the frame says so).
    """
    headers = _carrying(header, text)
    if headers is None:
        message = Message(body.decode("utf-8") if text else body, header)
        return envelope.encode(message), {ENVELOPE: WHOLE}
    return body, headers


def _carrying(header: Mapping[str, str], text: bool) -> dict[str, str] | None:
    """The frame headers that carry ``header`` and say how the body is; ``None`` when it must go whole."""
    plan = _plan_for(tuple(header))
    values = "".join(header.values())
    if plan is None or "\x00" in values or not _small_enough(plan.size, values):
        return None
    headers = dict(zip(plan.frame_names, header.values(), strict=True))
    headers[ENVELOPE] = TEXT if text else BINARY
    if header:
        headers[HEADER_NAMES] = plan.listed
    return headers


class _Plan(NamedTuple):
    """What a header's names alone decide: their frame names, the spoolq-header value, their bytes."""

    frame_names: tuple[str, ...]
    listed: str
    size: int


@functools.lru_cache(maxsize=256)  # a spool's messages share a handful of header layouts
def _plan_for(names: tuple[str, ...]) -> _Plan | None:
    """How the header names ``names`` go on a frame; ``None`` when one of them cannot."""
    size = 0
    for name in names:
        encoded = len(name.encode("utf-8"))
        if not name or encoded > MAX_FRAME_HEADER_NAME or "\x00" in name:
            return None
        size += 2 * encoded + 16  # the name twice (its field and the list), its separators
    listed = _NAMES_ENCODER.encode(list(names)) if names else ""
    return _Plan(tuple(frame_name(name) for name in names), listed, size)


def _small_enough(names_size: int, values: str) -> bool:
    """Whether the header fits the frame bound (a character is at most 4 UTF-8 bytes: rarely encoded)."""
    if names_size + 4 * len(values) <= MAX_FRAME_HEADER_BYTES:
        return True
    return names_size + len(values.encode("utf-8")) <= MAX_FRAME_HEADER_BYTES


def is_from_spoolq(headers: Mapping[str, str]) -> bool:
    """Whether a spoolq sender mapped this frame (by its headers alone, never its body)."""
    return ENVELOPE in headers or SPOOLQ_ID in headers


def from_frame(headers: Mapping[str, str], body: bytes) -> Message:
    """The message a frame carries; raises :class:`MalformedMessage` when a spoolq frame is inconsistent.

    ``body`` is the frame body once any S/MIME seal is opened.
    """
    kind = headers.get(ENVELOPE)
    if kind is None and SPOOLQ_ID not in headers:
        return _foreign(headers, body)
    if kind is None or kind == WHOLE:
        return envelope.decode(body)
    if kind not in (TEXT, BINARY):
        raise MalformedMessage(f"frame header {ENVELOPE} is {kind[:64]!r}, not text, binary or whole")
    return Message(_text_of(body) if kind == TEXT else body, _header_of(headers))


def _header_of(headers: Mapping[str, str]) -> dict[str, str]:
    listed = headers.get(HEADER_NAMES)
    if listed is None:
        return {}
    try:
        names = json.loads(listed)
    except ValueError:
        names = None
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise MalformedMessage(f"frame header {HEADER_NAMES} is not a JSON array of names")
    if len(names) > MAX_HEADERS:
        raise MalformedMessage(f"{HEADER_NAMES} lists {len(names)} fields, more than {MAX_HEADERS}")
    header = {}
    for name in names:
        value = headers.get(frame_name(name))
        if value is None:
            missing = frame_name(name)[:64]
            raise MalformedMessage(f"frame lacks the header {missing!r} that {HEADER_NAMES} lists")
        if len(name) > MAX_HEADER_NAME or len(value) > MAX_HEADER_VALUE:
            raise MalformedMessage(
                f"frame header {name[:64]!r} is past the header limits ({MAX_HEADER_NAME} characters"
                f" of name, {MAX_HEADER_VALUE} of value)"
            )
        header[name] = value
    return header


def _text_of(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedMessage(f"frame says {ENVELOPE}: text but its body is not UTF-8: {exc}") from None


def _foreign(headers: Mapping[str, str], body: bytes) -> Message:
    """A foreign sender's frame: the body as it came, its own headers kept."""
    try:
        data: str | bytes = body.decode("utf-8")
    except UnicodeDecodeError:
        data = body
    return Message(data, _kept_headers(headers))


def _kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A foreign frame's own headers, as many as an envelope may hold (the body is never refused for them).

    ``empa-id`` is left to the receiver, which checks it before recording it.
    """
    kept: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in TRANSPORT_HEADERS or lowered == EMPA_ID or len(kept) >= MAX_HEADERS:
            continue
        if 0 < len(name) <= MAX_HEADER_NAME and len(value) <= MAX_HEADER_VALUE:
            kept[name] = value
    return kept


def as_parked(headers: Mapping[str, str], body: bytes) -> bytes:
    """What to park for a frame that cannot be admitted: all it carried.

    A mapped frame's header is on the frame, so the parked element is an
    envelope of the body and every header the frame came with; any other
    frame is parked as its bytes, as it came.
    """
    if headers.get(ENVELOPE) in (TEXT, BINARY):
        return envelope.encode(_foreign(headers, body))
    return body
