"""The message: a header of strings and a body, immutable once built.

spoolq's own fields live in the header under fixed names (see :data:`HEADERS`)
so that any program that can write the on-disk envelope (see
:mod:`spoolq.envelope`) can speak to any component.  A body whose
``content-type`` is ``application/json`` is decoded on demand with
:meth:`Message.json`.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from spoolq.errors import MalformedMessage, MessageError

#: Header names spoolq itself reads and writes.
TYPE = "type"
VERSION = "version"
MESSAGE_ID = "message-id"
CORRELATION_ID = "correlation-id"
REPLY_TO = "reply-to"
SENDER = "sender"
TIMESTAMP = "timestamp"
CONTENT_TYPE = "content-type"
HEADERS = (TYPE, VERSION, MESSAGE_ID, CORRELATION_ID, REPLY_TO, SENDER, TIMESTAMP, CONTENT_TYPE)

JSON_CONTENT_TYPE = "application/json"


_sender: str | None = None  # computed once per process; forgotten in a forked child


def default_sender() -> str:
    """Who we are, for the ``sender`` header: ``host:pid`` unless ``SPOOLQ_SENDER`` overrides it.

    Read once per process (a forked child forgets it and names itself):
    every reply carries it, and gethostname plus an environment lookup (or
    even a getpid) per message was a measurable part of a component's cost.
    """
    global _sender
    if _sender is None:
        _sender = os.environ.get("SPOOLQ_SENDER") or f"{socket.gethostname()}:{os.getpid()}"
    return _sender


def _forget_sender() -> None:
    global _sender
    _sender = None


os.register_at_fork(after_in_child=_forget_sender)


def new_message_id() -> str:
    """A random (version 4) UUID as 32 hex digits, as ``uuid.uuid4().hex`` gives, without the UUID object.

    Ids are made 256 at a time from one ``os.urandom`` call: a system call per
    reply was a measurable part of a component's cost.  ``list.pop`` is atomic,
    so threads never share an id; a forked child drops its parent's pool.
    """
    try:
        return _id_pool.pop()
    except IndexError:
        _id_pool.extend(_fresh_ids())
        return new_message_id()  # another thread may have emptied it meanwhile


_id_pool: list[str] = []
_POOL_SIZE = 256
# uuid4's fixed bits, for _POOL_SIZE ids side by side: variant 10 (RFC 4122) and version 4.
_CLEAR = int.from_bytes(bytes.fromhex("ffffffffffff0fff3fffffffffffffff") * _POOL_SIZE, "big")
_SET = int.from_bytes(bytes.fromhex("00000000000040008000000000000000") * _POOL_SIZE, "big")


def _fresh_ids() -> list[str]:
    bits = (int.from_bytes(os.urandom(16 * _POOL_SIZE), "big") & _CLEAR) | _SET
    digits = bits.to_bytes(16 * _POOL_SIZE, "big").hex()
    return [digits[i : i + 32] for i in range(0, 32 * _POOL_SIZE, 32)]


def _forget_ids() -> None:
    _id_pool.clear()


os.register_at_fork(after_in_child=_forget_ids)


@dataclass(frozen=True)
class Message:
    """One message.  ``body`` is ``str`` for a text body, ``bytes`` for binary.

    The header is a plain mapping of strings to strings; it is copied on
    construction so that a message never changes behind its reader's back.
    """

    body: str | bytes = ""
    header: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.body, (str, bytes)):
            raise MessageError(f"message body must be str or bytes, not {type(self.body).__name__}")
        header = dict(self.header)
        try:  # str.join accepts exactly str (and subclasses) in C: the per-message fast check
            "".join(header)
            "".join(header.values())
        except TypeError:
            for key, value in header.items():
                if not isinstance(key, str) or not isinstance(value, str):
                    problem = f"header {key!r} must map a string to a string, got {value!r}"
                    raise MessageError(problem) from None
        object.__setattr__(self, "header", header)

    @classmethod
    def _owning(cls, body: str | bytes, header: dict[str, str]) -> Message:
        """A message over ``header`` itself, neither copied nor checked.

        For builders in this package that made ``header`` fresh and know its
        keys and values are strings and ``body`` is str or bytes (the envelope
        decoder, :meth:`new`, :meth:`with_header`): the public constructor's
        copy and checks were a measurable part of handling a message.
        """
        message = object.__new__(cls)
        fields = message.__dict__  # filled directly: the frozen dataclass refuses setattr
        fields["body"] = body
        fields["header"] = header
        return message

    # -- construction ---------------------------------------------------------------

    @classmethod
    def new(
        cls,
        type: str | None = None,
        body: Any = "",
        /,
        **headers: str,
    ) -> Message:
        """A fresh message with a new id, a timestamp and our sender name.

        A body that is neither ``str`` nor ``bytes`` is serialised as JSON and
        the content type set accordingly.  Keyword arguments become headers,
        with ``_`` spelled ``-`` (``reply_to="pe_reply"`` sets ``reply-to``).
        """
        header = {
            MESSAGE_ID: new_message_id(),
            TIMESTAMP: f"{time.time():.6f}",
            SENDER: default_sender(),
        }
        if type is not None:
            header[TYPE] = type
        if not isinstance(body, (str, bytes)):
            body = json.dumps(body, separators=(",", ":"), sort_keys=True)
            header[CONTENT_TYPE] = JSON_CONTENT_TYPE
        for key, value in headers.items():
            if value is not None:
                header[key.replace("_", "-")] = str(value)
        if type is not None and not isinstance(type, str):
            return cls(body, header)  # let the constructor word the error
        return cls._owning(body, header)

    def reply(self, type: str | None = None, body: Any = "", /, **headers: str) -> Message:
        """A new message answering this one: its ``correlation-id`` is our id."""
        headers.setdefault("correlation_id", self.message_id)
        return Message.new(type, body, **headers)

    def with_header(self, **headers: str | None) -> Message:
        """A copy with headers set (``None`` removes one); ``_`` spells ``-``."""
        header = dict(self.header)
        for key, value in headers.items():
            key = key.replace("_", "-")
            if value is None:
                header.pop(key, None)
            else:
                header[key] = str(value)
        return self._owning(self.body, header)  # a copy of checked strings, plus str() values

    # -- reading --------------------------------------------------------------------

    @property
    def text(self) -> bool:
        return isinstance(self.body, str)

    @property
    def type(self) -> str | None:
        return self.header.get(TYPE)

    @property
    def message_id(self) -> str | None:
        return self.header.get(MESSAGE_ID)

    @property
    def correlation_id(self) -> str | None:
        return self.header.get(CORRELATION_ID)

    @property
    def reply_to(self) -> str | None:
        return self.header.get(REPLY_TO)

    @property
    def content_type(self) -> str | None:
        return self.header.get(CONTENT_TYPE)

    @property
    def body_bytes(self) -> bytes:
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body

    def json(self) -> Any:
        """The body decoded as JSON; raises :class:`MalformedMessage` if it is not."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedMessage(f"body is not valid JSON: {exc}") from None

    def payload(self) -> Any:
        """What a handler usually wants: decoded JSON for a JSON body, else the body."""
        if (self.content_type or "").split(";")[0].strip() == JSON_CONTENT_TYPE:
            return self.json()
        return self.body
