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
from json.encoder import encode_basestring

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


def with_header(data: bytes, header: Mapping[str, str]) -> bytes:
    """The envelope ``data`` with its header replaced by ``header``, its body as it was.

    For a relay that adds a header field (a hop to the trail) to what it
    forwards: an envelope that starts with its header, as spoolq and the
    messaging tools write it, gets the new header spliced in and its body
    copied, not parsed; anything else is decoded and encoded whole.
    Raises :class:`MalformedMessage` when ``data`` is not an envelope.
    """
    start = _HEADER_FIRST.match(data)
    if start is not None:
        for length in (_HEADER_PREFIX, len(data)):  # a header fits the prefix but for a rare one
            spliced = _splice_header(data, start.end(), length, header)
            if spliced is not None:
                return spliced
    message = decode(data)
    return encode(Message(message.body, header))


_HEADER_PREFIX = 16384  # bytes read to find where the header ends


def _splice_header(data: bytes, at: int, length: int, header: Mapping[str, str]) -> bytes | None:
    """``data`` with the header object at byte ``at`` replaced by ``header``.

    ``None`` when that object does not end within the first ``length`` bytes,
    or is no object.  The bytes before ``at`` are ASCII (``_HEADER_FIRST``),
    so ``at`` is a character offset too.
    """
    cut = min(length, len(data))
    while at < cut < len(data) and (data[cut] & 0xC0) == 0x80:
        cut -= 1  # never inside a UTF-8 character
    try:
        text = data[:cut].decode("utf-8")
        old, end = _scan_once(text, at)
    except (StopIteration, ValueError, UnicodeDecodeError):
        return None
    if type(old) is not dict:
        return None
    after = len(text[:end].encode("utf-8"))
    return b"".join((data[:at], _ENCODER.encode(dict(header)).encode("utf-8"), data[after:]))


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
