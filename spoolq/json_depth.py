"""How deeply JSON text nests, found without parsing it.

Python's JSON parser recurses once per open bracket, so ``[`` * 100,000
raises ``RecursionError`` (and deep enough input could exhaust the C stack
in other parsers).  Asking this module first means a parser is never handed
what would make it recurse past a bound.

The scan is exact for valid JSON: strings are skipped whole (brackets inside
them do not count), and every ``{`` or ``[`` outside one opens a level.  For
invalid JSON it may count a bracket a parser would never reach; that input
is refused either way.
"""

from __future__ import annotations

import re

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
