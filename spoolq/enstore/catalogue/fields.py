"""Building and checking catalogue messages: dotted field paths, one error per wrong field.

A field spec is a dotted path into the JSON body (``cache.en.path``) and the
Python types its value may have.  Fields the design marks read-only or "not
applicable" for a direction are simply not listed as required.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spoolq.errors import Reject
from spoolq.message import JSON_CONTENT_TYPE, Message

#: Every catalogue message carries this ``version`` header (the design's ``msg_ver``).
VERSION = "1.0"
#: Status of a reply that reports success (the design's ``[err, err_msg]``).
OK = ["ok", ""]

TEXT = (str,)
NUMBER = (int,)
MAPPING = (dict,)
LIST = (list,)


def build(type_: str, body: Mapping[str, Any], **headers: str | None) -> Message:
    """A new catalogue message: JSON body, ``type`` and ``version`` headers."""
    return Message.new(type_, dict(body), version=VERSION, **headers)


def build_reply(request: Message, type_: str, body: Mapping[str, Any], **headers: str) -> Message:
    """A reply to ``request``: its ``message-id`` becomes our ``correlation-id``."""
    headers.setdefault("correlation_id", request.message_id or "")
    return build(type_, body, **headers)


def lookup(body: Mapping[str, Any], path: str) -> Any:
    """The value at dotted ``path`` in ``body``; ``KeyError`` naming the path if absent."""
    value: Any = body
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise KeyError(path)
        value = value[part]
    return value


def check(body: Any, spec: Mapping[str, tuple[type, ...]], *, where: str = "body") -> dict:
    """Return ``body`` if every field of ``spec`` is present with an allowed type.

    Raises :class:`Reject` naming the first wrong field and what was expected.
    """
    if not isinstance(body, dict):
        raise Reject(f"{where}: expected a JSON object, got {type(body).__name__}")
    for path, types in spec.items():
        try:
            value = lookup(body, path)
        except KeyError:
            raise Reject(f"{where}: required field {path!r} is missing") from None
        if not isinstance(value, types) or isinstance(value, bool):
            names = "/".join(t.__name__ for t in types)
            raise Reject(f"{where}: field {path!r} must be {names}, got {value!r:.60}")
    return body


def check_list(body: Mapping[str, Any], key: str, spec: Mapping[str, tuple[type, ...]]) -> list:
    """Check that ``body[key]`` is a non-empty list whose items each satisfy ``spec``."""
    items = body.get(key)
    if not isinstance(items, list) or not items:
        raise Reject(f"body: field {key!r} must be a non-empty list")
    for index, item in enumerate(items):
        check(item, spec, where=f"{key}[{index}]")
    return items


def check_status(body: Mapping[str, Any]) -> list:
    """A reply's ``status``: a two-item list ``[err, err_msg]`` of strings."""
    status = body.get("status")
    if not (isinstance(status, list) and len(status) == 2 and all(isinstance(s, str) for s in status)):
        raise Reject(f"body: field 'status' must be [err, err_msg], got {status!r:.60}")
    return status


def payload(message: Message) -> dict:
    """The JSON object body of ``message``; :class:`Reject` if it is anything else."""
    if (message.content_type or "").split(";")[0].strip() != JSON_CONTENT_TYPE:
        raise Reject(f"{message.type}: content-type must be {JSON_CONTENT_TYPE}")
    try:
        body = message.json()
    except Exception as exc:  # MalformedMessage: the text says what is wrong
        raise Reject(f"{message.type}: {exc}") from None
    if not isinstance(body, dict):
        raise Reject(f"{message.type}: body must be a JSON object")
    return body


def require_correlation(message: Message) -> str:
    """Replies must say what they answer."""
    if not message.correlation_id:
        raise Reject(f"{message.type}: header 'correlation-id' is missing")
    return message.correlation_id
