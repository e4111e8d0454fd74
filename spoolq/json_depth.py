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


def nests_deeper_than(data: bytes | str, limit: int) -> bool:
    """Whether ``data`` (JSON text) opens more than ``limit`` brackets at once.

    Fast when it cannot: text with no more than ``limit`` brackets in all is
    answered by counting them (in C), without a scan.
    """
    if isinstance(data, str):
        open_brace, open_bracket, token = "{", "[", _TEXT_TOKEN
    else:
        open_brace, open_bracket, token = b"{", b"[", _TOKEN
    if data.count(open_brace) + data.count(open_bracket) <= limit:
        return False
    depth = 0
    for match in token.finditer(data):
        first = match.group()[:1]
        if first in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        elif first != b'"' and first != '"':
            depth -= 1  # a closing bracket; below 0 is invalid JSON, which the parser refuses
    return False
