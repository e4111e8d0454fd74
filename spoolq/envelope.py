"""The on-disk message format: the JSON envelope of the EMI messaging tools.

Format version 1 (the only one) is exactly what Python ``messaging.message``
and Perl ``Messaging::Message`` write with ``serialize()``: a UTF-8 JSON object
with the optional keys

``header``    object of string to string (spoolq's fields: :mod:`spoolq.message`)
``body``      string
``text``      ``true`` when the body is text, absent or ``false`` for binary
``encoding``  ``+``-joined transformations applied to the body, undone in the
              order ``base64``, then ``zlib``, then ``utf8``

Anything that is not such an object is still a message: its bytes are the body
(this is what APEL SSM spools carry).  A file that *looks* like an envelope (a
JSON object whose keys are envelope keys, or text starting ``{"header"`` ...)
but is not a valid one raises :class:`MalformedMessage`, never silently turns
into a raw body.

Whatever the bytes, reading them raises :class:`MalformedMessage` and nothing
else: an envelope nested past :data:`~spoolq.limits.MAX_NESTING` is refused
before the JSON parser sees it, a header past the header limits, a body that
would inflate past :data:`~spoolq.limits.MAX_INFLATED_BODY`, and text that is
not valid Unicode (a lone surrogate, raw or escaped) are all refused with the
reason (see :mod:`spoolq.limits`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from collections.abc import Mapping
from json.decoder import scanstring
from json.encoder import encode_basestring
from typing import NamedTuple

from spoolq.errors import MalformedMessage
from spoolq.limits import (
    MAX_HEADER_NAME,
    MAX_HEADER_VALUE,
    MAX_HEADERS,
    MAX_INFLATED_BODY,
    MAX_NESTING,
    nests_deeper_than,
)
from spoolq.message import Message

FORMAT_VERSION = 1
ENVELOPE_KEYS = frozenset({"header", "body", "text", "encoding"})
_LOOKS_LIKE_ENVELOPE = re.compile(rb'\A\s*\{\s*("(header|body|text|encoding)"\s*:|\})')
_HEADER_FIRST = re.compile(rb'\A\s*\{\s*"header"\s*:\s*')
_PRINTABLE_ASCII = re.compile(rb"\A[\x20-\x7e\t\r\n]*\Z")
_SURROGATE = re.compile("[\ud800-\udfff]")
_LONE_SURROGATE = "envelope holds a lone surrogate (\\ud800-\\udfff): not valid Unicode"
_ZLIB_WORTH_IT = 255  # below this, the messaging tools never compress either
# Built once: json.dumps/json.loads with arguments build an encoder per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_DECODER = json.JSONDecoder()
_scan_once = _DECODER.scan_once  # the decoder's scanner (C): (object, end) for JSON at an index
_quote = encode_basestring  # the JSON string encoder the encoder above uses (ensure_ascii=False)
# The tails encode() writes after a text body and after a base64 body, and what comes before a body.
_TEXT_TAIL = b'","text":true}'
_BASE64_TAIL = b'","encoding":"base64"}'
_BODY_AFTER_HEADER = b',"body":"'
_HEADER_START = b'{"header":{'
_BODY_ALONE_START = b'{"body":"'
_CONTROL = bytes(range(0x20))  # never raw in a JSON string


def encode(message: Message, compress: bool = False) -> bytes:
    """Serialise ``message`` as the messaging tools would.

    A text body is stored as is; a binary body is base64-encoded unless it is
    plain printable ASCII (as the messaging tools do).  With ``compress`` a
    body of 255 bytes or more is zlib-compressed when that saves 10 %.
    """
    body = message.body
    if type(body) is str and body and not compress:
        return _encode_text(message.header, body)
    obj: dict = {}
    if message.header:
        obj["header"] = dict(message.header)
    if body:
        encoding: list[str] = []
        raw = body.encode("utf-8") if isinstance(body, str) else body
        if compress and len(raw) >= _ZLIB_WORTH_IT:
            packed = zlib.compress(raw)
            if len(packed) < 0.9 * len(raw):
                if isinstance(body, str):
                    encoding.append("utf8")
                encoding += ["zlib", "base64"]
                body = packed
        if isinstance(body, str):
            obj["body"] = body
            obj["text"] = True
        else:
            if encoding or not _is_plain_ascii(body):
                if "base64" not in encoding:
                    encoding.append("base64")
                obj["body"] = base64.b64encode(body).decode("ascii")
            else:
                obj["body"] = body.decode("ascii")
            if isinstance(message.body, str):
                obj["text"] = True
        if encoding:
            obj["encoding"] = "+".join(encoding)
    return _ENCODER.encode(obj).encode("utf-8")


def _encode_text(header: Mapping[str, str], body: str) -> bytes:
    """The common envelope (a text body, not compressed), joined from its JSON strings.

    Byte for byte what ``_ENCODER`` writes for ``{"header": ..., "body": ...,
    "text": true}`` (the same C string encoder, the same separators and key
    order), at half its cost: the encoder object's machinery was a measurable
    part of each reply.  Anything that is not a string of strings takes the
    encoder, which words the error.
    """
    quote = _quote
    try:
        if header:
            fields = ",".join([quote(key) + ":" + quote(value) for key, value in header.items()])
            text = '{"header":{' + fields + '},"body":' + quote(body) + ',"text":true}'
        else:
            text = '{"body":' + quote(body) + ',"text":true}'
    except TypeError:
        obj = {"header": dict(header), "body": body, "text": True} if header else {"body": body, "text": True}
        text = _ENCODER.encode(obj)
    return text.encode("utf-8")


def decode(data: bytes, where: str | None = None) -> Message:
    """Parse element bytes into a :class:`Message`.

    Raw (non-envelope) bytes become the body: text if they are valid UTF-8,
    binary otherwise.  ``where`` names the element in any error raised.
    """
    if not _LOOKS_LIKE_ENVELOPE.match(data):
        return Message(_as_text_if_utf8(data))
    _check_nesting(data, where)
    try:
        # What json.loads does with bytes, less its encoding sniffing: data matching
        # _LOOKS_LIKE_ENVELOPE starts with ASCII, which json.loads reads as UTF-8 too.
        # Strict UTF-8: a surrogate encoded in the bytes is not text that can be written back.
        obj = _parse(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedMessage(f"envelope is not valid JSON: {exc}", where) from None
    if not isinstance(obj, dict) or not set(obj) <= ENVELOPE_KEYS:
        if isinstance(obj, dict) and set(obj) & ENVELOPE_KEYS:
            extra = sorted(set(obj) - ENVELOPE_KEYS)
            raise MalformedMessage(f"envelope has unknown keys {extra}", where)
        return Message(_as_text_if_utf8(data))
    return _from_object(obj, where)


class Parts(NamedTuple):
    """A message as a relay needs it: its header, its body's bytes, whether the body is text."""

    header: dict[str, str]
    body: bytes
    text: bool


def decode_parts(data: bytes, where: str | None = None) -> Parts:
    """``decode(data)`` as its header, its body's bytes and whether the body is text.

    For a sender that puts the body's bytes on the wire: the envelopes
    :func:`encode` writes for a text or a binary body are read without
    building the body as a string (a base64 body is checked and decoded as
    bytes, a text body without escapes is its own bytes), and raw bytes are
    the body as they are.  Anything else, and any envelope these shortcuts
    doubt, goes through :func:`decode`: the same message, the same errors.
    """
    if not _LOOKS_LIKE_ENVELOPE.match(data):
        return Parts({}, data, _is_utf8(data))
    parts = _common_parts(data)
    if parts is None:
        message = decode(data, where)
        return Parts(dict(message.header), message.body_bytes, isinstance(message.body, str))
    return parts


def _common_parts(data: bytes) -> Parts | None:
    """The parts of an envelope shaped as :func:`encode` writes it, or ``None`` to let :func:`decode` read it.

    ``{"header":{...},"body":"...","text":true}`` or ``..."encoding":"base64"}``,
    with or without the header.  No JSON string holds ``,"`` (its quotes are
    escaped), so the first ``,"body":"`` ends the header unless a header
    field is named ``body`` (then :func:`decode` reads it); the header before
    it must be one JSON object ending exactly there, and the body's string
    must end exactly at the tail.
    """
    if data.endswith(_TEXT_TAIL):
        text, end = True, len(data) - len(_TEXT_TAIL)
    elif data.endswith(_BASE64_TAIL):
        text, end = False, len(data) - len(_BASE64_TAIL)
    else:
        return None
    at = data.find(_BODY_AFTER_HEADER, 0, end)
    if at >= 0:
        header = _header_before(data, at)
        start = at + len(_BODY_AFTER_HEADER)
    elif data.startswith(_BODY_ALONE_START):
        header, start = {}, len(_BODY_ALONE_START)
    else:
        return None
    if header is None or start > end:
        return None
    body = _text_literal(data[start : end + 1]) if text else _base64_literal(data[start:end])
    return None if body is None else Parts(header, body, text)


def _header_before(data: bytes, at: int) -> dict[str, str] | None:
    """The header object that ``data[:at]`` holds after ``{"header":`` and nothing else, if valid."""
    if not data.startswith(_HEADER_START):
        return None
    prefix = data[:at]
    # The envelope's own brace counted, as decode counts it; a header of a few brackets needs no scan.
    if prefix.count(b"{") + prefix.count(b"[") > MAX_NESTING and nests_deeper_than(prefix, MAX_NESTING):
        return None
    try:
        text = prefix.decode("utf-8")
        header, end = _scan_once(text, len(_HEADER_START) - 1)
        if end != len(text) or type(header) is not dict:
            return None
        _check_header(header, None)
    except (StopIteration, ValueError, UnicodeDecodeError, MalformedMessage):
        return None
    return header


def _text_literal(string: bytes) -> bytes | None:
    """The UTF-8 bytes of the JSON string ``string`` holds (from after its opening quote to its closing one).

    ``None`` when it is no such string: not UTF-8, an unescaped quote or a
    control character inside, a bad escape, an escaped lone surrogate.
    """
    literal = string[:-1]
    if b"\\" not in literal and b'"' not in literal:  # no escapes: the string is its bytes, if valid
        if len(literal.translate(None, _CONTROL)) != len(literal):
            return None
        return literal if literal.isascii() or _is_utf8(literal) else None
    try:
        text = string.decode("utf-8")
        body, end = scanstring(text, 0, True)
        return body.encode("utf-8") if end == len(text) else None  # a lone surrogate: UnicodeError
    except (ValueError, UnicodeError):
        return None


def _base64_literal(literal: bytes) -> bytes | None:
    """The bytes ``literal`` (the inside of a JSON string) holds as strict base64; ``None`` if it holds none.

    Strict base64 allows no quote, backslash or control character: such a
    literal is a JSON string that is its own bytes, so this is exactly what
    :func:`decode` gives.  Any error is left to :func:`decode` to word.
    """
    try:
        return binascii.a2b_base64(literal, strict_mode=True)
    except binascii.Error:
        return None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def header_of(data: bytes) -> dict[str, str] | None:
    """The header of an envelope without decoding its body; ``None`` when it has none to give.

    For a relay that needs only the routing fields: a body of a hundred
    kilobytes of base64 is not parsed to read ``to`` and ``message-id``.  Only
    an envelope that starts with its header is read this way; anything else
    (another key first, a raw body, a malformed envelope) is decoded whole,
    and gives ``None`` if it is not a valid envelope.
    """
    start = _HEADER_FIRST.match(data)
    if start is not None:
        try:
            _check_nesting(data, None, start.end())  # the header alone: the body is not parsed
            header, _end = _scan_once(data.decode("utf-8"), start.end())
            if type(header) is dict:
                _check_header(header, None)
                return header
        except (StopIteration, ValueError, UnicodeDecodeError, MalformedMessage):
            pass
    try:
        return dict(decode(data).header) if _LOOKS_LIKE_ENVELOPE.match(data) else None
    except MalformedMessage:
        return None


def _parse(text: str) -> object:
    """``_DECODER.decode(text)``, through its C scanner alone when the text is one bare object.

    The decoder's Python layers (and their two whitespace matches) were a
    measurable part of reading each message; anything else (leading or
    trailing whitespace, invalid JSON) takes the decoder, which words the error.
    """
    if text[:1] == "{":
        try:
            obj, end = _scan_once(text, 0)
            if end == len(text):
                return obj
        except (StopIteration, ValueError):
            pass
    return _DECODER.decode(text)


def _from_object(obj: dict, where: str | None) -> Message:
    header = obj.get("header", {})
    if not isinstance(header, dict):
        raise MalformedMessage("envelope 'header' must be an object of strings", where)
    _check_header(header, where)
    body = obj.get("body", "")
    if type(body) is str and not body.isascii() and _SURROGATE.search(body):  # isascii: O(1)
        raise MalformedMessage(_LONE_SURROGATE, where)  # \ud800 escaped: text no UTF-8 can hold
    if obj.get("text") is True and type(body) is str and "encoding" not in obj:
        return Message._owning(body, header)  # the common text envelope: nothing to undo
    if not isinstance(body, str):
        raise MalformedMessage("envelope 'body' must be a string", where)
    text = obj.get("text", False)
    if not isinstance(text, bool):
        raise MalformedMessage("envelope 'text' must be true or false", where)
    encoding = obj.get("encoding") or ""
    if not isinstance(encoding, str):
        raise MalformedMessage("envelope 'encoding' must be a string", where)
    steps = [step for step in encoding.split("+") if step]
    unknown = sorted(set(steps) - {"base64", "zlib", "utf8"})
    if unknown:
        raise MalformedMessage(f"envelope encoding {'+'.join(unknown)} is not supported", where)
    data: str | bytes = body
    try:
        if steps:
            data = body.encode("utf-8")
        if "base64" in steps:
            data = base64.b64decode(data, validate=True)
        if "zlib" in steps:
            data = _inflate(data, where)
        if "utf8" in steps:
            data = data.decode("utf-8")
        if isinstance(data, bytes) and text:
            data = data.decode("utf-8")
        elif isinstance(data, str) and not text:
            data = data.encode("utf-8")
    except (binascii.Error, zlib.error, UnicodeError) as exc:
        raise MalformedMessage(f"envelope body does not decode as {encoding!r}: {exc}", where) from None
    return Message._owning(data, header)  # header checked above, fresh from the parser


def _check_nesting(data: bytes, where: str | None, start: int = 0) -> None:
    """Refuse an envelope (or its value at ``start``) nested past MAX_NESTING before any parser recurses."""
    if nests_deeper_than(data, MAX_NESTING, start):
        reason = f"envelope nests deeper than {MAX_NESTING} levels (a valid one needs 2)"
        raise MalformedMessage(reason, where)


def _check_header(header: dict, where: str | None) -> None:
    """Refuse a header that is not an object of strings within the header limits.

    Each bound is checked on the join of all names or all values first (in
    C): within it, no single field can be past it, the common case.
    """
    try:  # keys of a JSON object are always strings; str.join checks the values in C
        values = "".join(header.values())
    except TypeError:
        raise MalformedMessage("envelope 'header' must be an object of strings", where) from None
    names = "".join(header)
    if len(header) > MAX_HEADERS:
        raise MalformedMessage(f"envelope header has {len(header)} fields, more than {MAX_HEADERS}", where)
    if len(values) > MAX_HEADER_VALUE and max(map(len, header.values())) > MAX_HEADER_VALUE:
        name = max(header, key=lambda key: len(header[key]))
        raise MalformedMessage(
            f"envelope header field {name[:64]!r} is {len(header[name])} characters long, "
            f"more than {MAX_HEADER_VALUE}",
            where,
        )
    if len(names) > MAX_HEADER_NAME and max(map(len, header)) > MAX_HEADER_NAME:
        name = max(header, key=len)
        raise MalformedMessage(
            f"envelope header field name {name[:64]!r} is {len(name)} characters long, "
            f"more than {MAX_HEADER_NAME}",
            where,
        )
    if not (values.isascii() and names.isascii()) and _SURROGATE.search(names + values):
        raise MalformedMessage(_LONE_SURROGATE, where)


def _inflate(data: bytes, where: str | None) -> bytes:
    """``zlib.decompress(data)``, refusing to inflate past MAX_INFLATED_BODY."""
    inflater = zlib.decompressobj()
    inflated = inflater.decompress(data, MAX_INFLATED_BODY)
    if inflater.unconsumed_tail or (not inflater.eof and len(inflated) >= MAX_INFLATED_BODY):
        raise MalformedMessage(f"envelope body inflates to more than {MAX_INFLATED_BODY} bytes", where)
    if not inflater.eof:
        raise MalformedMessage("envelope body does not decode as zlib: incomplete or truncated stream", where)
    return inflated


def _is_plain_ascii(data: bytes) -> bool:
    return _PRINTABLE_ASCII.match(data) is not None


def _as_text_if_utf8(data: bytes) -> str | bytes:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data
