"""Enstore UDP tickets: a dictionary per datagram, as JSON or as a Python literal.

Legacy Enstore components send ``repr()`` of a dictionary; newer ones may
send JSON.  Both are parsed without ever executing anything: JSON with
:func:`json.loads`, the rest with :func:`ast.literal_eval`.  A reply goes
back in the form its request came in.
"""

from __future__ import annotations

import ast
import json
from typing import Any

from spoolq.errors import MessageError

JSON = "json"
LITERAL = "literal"


class TicketError(MessageError):
    """A datagram is not a ticket (not a dictionary, or not parseable)."""


def parse_ticket(data: bytes) -> tuple[dict[str, Any], str]:
    """``(ticket, form)`` of a datagram; :class:`TicketError` saying why not."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise TicketError("datagram is not UTF-8 text") from None
    try:
        ticket, form = json.loads(text), JSON
    except (ValueError, RecursionError):
        # RecursionError: the JSON parser recurses per nesting level and stops, cleanly, at the
        # interpreter's limit.  No bracket pre-scan here: a legacy ticket's strings are quoted
        # with ', so brackets inside them cannot be told from structure without parsing.
        try:
            ticket, form = ast.literal_eval(text.strip()), LITERAL
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
            raise TicketError(f"neither JSON nor a Python literal: {type(exc).__name__}") from None
    if not isinstance(ticket, dict):
        raise TicketError(f"ticket must be a dictionary, got {type(ticket).__name__}")
    return ticket, form


def format_ticket(ticket: Any, form: str) -> bytes:
    """Encode a reply in ``form`` (JSON, or the ``repr`` a legacy client reads)."""
    if form == LITERAL:
        return repr(ticket).encode("utf-8")
    return json.dumps(ticket, separators=(",", ":")).encode("utf-8")


def jsonable(ticket: dict[str, Any]) -> dict[str, Any]:
    """A literal ticket made storable as JSON (tuples become lists, sets sorted lists)."""
    return json.loads(json.dumps(ticket, default=_fallback))


def _fallback(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=repr)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, complex):
        return [value.real, value.imag]
    raise TypeError(f"cannot store {type(value).__name__}")
