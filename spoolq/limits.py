"""The bounds on what a message from outside may carry, in one place.

Every parser of outside bytes (:mod:`spoolq.envelope`, :mod:`spoolq.routing`)
refuses what goes past these with its one documented error, before the
thing past the bound is built in memory or recursed into.  They are far
above what any valid message needs, so a valid message never meets them;
they exist so that one hostile or broken message costs a bounded amount
of time, memory and stack.  Documented in docs/foundation.md (the message
format) and docs/operations.md ("Bad input").

Nesting is the one bound a parser cannot check as it goes, so this module
also finds it, without parsing (:func:`nests_deeper_than`): Python's JSON
parser recurses once per open bracket, so ``[`` * 100,000 raises
``RecursionError``.  Asking first means a parser is never handed what would
make it recurse past a bound.  The scan is exact for valid JSON: strings are
skipped whole (brackets inside them do not count), and every ``{`` or ``[``
outside one opens a level.  For invalid JSON it may count a bracket a parser
would never reach; that input is refused either way.
"""

from __future__ import annotations

import re

#: Brackets (``{`` or ``[``) open at once in an envelope.  A valid one needs 2
#: (the envelope object and its header object); up to this many the field
#: checks name what is wrong, past it the envelope is refused before parsing.
MAX_NESTING = 32

#: Fields in a message header.  spoolq itself writes about fifteen at most.
MAX_HEADERS = 256

#: Characters in one header field name.
MAX_HEADER_NAME = 256

#: Characters in one header field value (a parked reason is cut to fit).
MAX_HEADER_VALUE = 64 * 1024

#: Bytes a compressed (``zlib``) body may inflate to: a small element must
#: not unpack into gigabytes.
MAX_INFLATED_BODY = 64 * 1024 * 1024

#: Brackets open at once in a JSON configuration file (a PanDA processor configuration).
MAX_DOCUMENT_NESTING = 64

#: Characters in the NODE part of a ``COMPONENT@NODE`` address (RabbitMQ's bound on a queue name).
MAX_NODE_NAME = 255


# A JSON string (escapes included), or one bracket.  The string pattern is the
# unrolled loop "[^"\\]*(\\.[^"\\]*)*": the regular expression engine runs
# over plain characters without backtracking.
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_TEXT_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_OPENERS = (b"{", b"[", "{", "[")


def nests_deeper_than(data: bytes | str, limit: int, start: int = 0) -> bool:
    """Whether the JSON value at ``start`` of ``data`` opens more than ``limit`` brackets at once.

    The scan ends where that value closes: a parser reads one value from
    ``start`` and stops there (then refuses what follows, if anything does).
    Fast when it cannot nest so deep: a text with no more than ``limit``
    brackets in all is answered by a few ``find`` calls, without a scan.
    """
    if isinstance(data, str):
        opener_kinds, token, quote = ("{", "["), _TEXT_TOKEN, '"'
    else:
        opener_kinds, token, quote = (b"{", b"["), _TOKEN, b'"'
    if not _more_brackets_than(data, limit, opener_kinds):
        return False
    depth = 0
    for match in token.finditer(data, start):
        first = match.group()[:1]
        if first in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        elif first != quote:
            depth -= 1  # a closing bracket
            if depth <= 0:
                return False  # the value at start is closed (or the text is invalid JSON)
    return False


def _more_brackets_than(data: bytes | str, limit: int, opener_kinds: tuple) -> bool:
    """Whether ``data`` holds more than ``limit`` opening brackets: ``find`` runs at memchr speed."""
    found = 0
    for opener in opener_kinds:
        at = data.find(opener)
        while at >= 0:
            found += 1
            if found > limit:
                return True
            at = data.find(opener, at + 1)
    return False
