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
from spoolq.message import Message

FORMAT_VERSION = 1
ENVELOPE_KEYS = frozenset({"header", "body", "text", "encoding"})
_LOOKS_LIKE_ENVELOPE = re.compile(rb'\A\s*\{\s*("(header|body|text|encoding)"\s*:|\})')
_HEADER_FIRST = re.compile(rb'\A\s*\{\s*"header"\s*:\s*')
_PRINTABLE_ASCII = re.compile(rb"\A[\x20-\x7e\t\r\n]*\Z")
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
    try:
        # What json.loads does with bytes, less its encoding sniffing: data matching
        # _LOOKS_LIKE_ENVELOPE starts with ASCII, which json.loads reads as UTF-8 too.
        obj = _parse(data.decode("utf-8", "surrogatepass"))
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
            header, _end = _scan_once(data.decode("utf-8", "surrogatepass"), start.end())
        except (StopIteration, ValueError, UnicodeDecodeError):
            header = None
        if type(header) is dict:
            try:
                "".join(header.values())
                return header
            except TypeError:
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
    try:  # keys of a JSON object are always strings; str.join checks the values in C
        "".join(header.values())
    except TypeError:
        raise MalformedMessage("envelope 'header' must be an object of strings", where) from None
    body = obj.get("body", "")
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
            data = zlib.decompress(data)
        if "utf8" in steps:
            data = data.decode("utf-8")
        if isinstance(data, bytes) and text:
            data = data.decode("utf-8")
        elif isinstance(data, str) and not text:
            data = data.encode("utf-8")
    except (binascii.Error, zlib.error, UnicodeError) as exc:
        raise MalformedMessage(f"envelope body does not decode as {encoding!r}: {exc}", where) from None
    return Message._owning(data, header)  # header checked above, fresh from the parser


def _is_plain_ascii(data: bytes) -> bool:
    return _PRINTABLE_ASCII.match(data) is not None


def _as_text_if_utf8(data: bytes) -> str | bytes:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data
