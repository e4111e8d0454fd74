"""The ``trail`` header's format: entries, how one is added, and how the whole stays bounded.

The value is one line, entries joined by ``"; "``, oldest first; each entry
is four fields separated by single spaces::

    EVENT NODE WHERE TIME
    put node-a spool=requests 2026-12-07T04:41:12.123456Z

``WHERE`` is ``spool=NAME``, ``shipper=NAME`` or ``component=NAME``; ``TIME``
is UTC with microseconds.  A field's spaces and semicolons are written as
``_``, so a field never splits.

The trail is bounded: at most :data:`MAX_ENTRIES` entries and
:data:`MAX_CHARS` characters (well under a header value's limit).  Past
either, the oldest entries *after the first* are dropped, and one marker
entry ``[N hops left out]`` stands where they were: the origin and the latest
hops stay readable.  Adding an entry never fails a message: an entry that
does not parse (written by hand, or by another program) is kept as it is,
and dropped first when room is needed.
"""

from __future__ import annotations

import functools
import re
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from spoolq.limits import MAX_HEADERS

TRAIL = "trail"
PUT, SHIPPED, RECEIVED, HANDLED, REPLIED = "put", "shipped", "received", "handled", "replied"
MAX_ENTRIES = 32
MAX_CHARS = 4096
SEPARATOR = "; "
_MARKER = re.compile(r"\[(\d+) hops? left out\]")
_UNSAFE = re.compile(r"[\s;]")


@dataclass(frozen=True)
class Entry:
    """One hop: what happened (``event``), on which ``node``, ``where`` (``kind=name``), ``when`` (epoch)."""

    event: str
    node: str
    where: str
    when: float

    def text(self) -> str:
        seconds, micros = divmod(round(self.when * 1_000_000), 1_000_000)
        return f"{_fields(self.event, self.node, self.where)} {_second(seconds)}.{micros:06d}Z"


@dataclass(frozen=True)
class Marker:
    """Where ``count`` entries were dropped to keep the trail within its bound."""

    count: int

    def text(self) -> str:
        return f"[{self.count} hop{'s' if self.count != 1 else ''} left out]"


def local_node(configured: str | None = None) -> str:
    """This node's name for the trail: the configured ``node``, else the host's name."""
    return configured or socket.gethostname()


def parse(value: str) -> list[Entry | Marker | str]:
    """The entries of a ``trail`` value; an entry that does not parse is kept as its text."""
    items: list[Entry | Marker | str] = []
    for text in value.split(SEPARATOR) if value else ():
        items.append(_entry(text))
    return items


def stamped(header: Mapping[str, str], event: str, node: str, where: str, when: float | None = None) -> str:
    """The ``trail`` value of ``header`` with one entry added: the header to set on the message."""
    entry = Entry(event, node, where, time.time() if when is None else when)
    return extended(header.get(TRAIL, ""), [entry])


def stamp(
    header: Mapping[str, str], event: str, node: str, where: str, when: float | None = None
) -> dict[str, str]:
    """A copy of ``header`` with the hop added to its trail.

    A header that already holds the most fields a header may hold (and no
    trail) is returned as it is: the trail never makes a message invalid.
    """
    header = dict(header)
    if TRAIL in header or len(header) < MAX_HEADERS:
        header[TRAIL] = stamped(header, event, node, where, when)
    return header


def extended(value: str, new: list[Entry]) -> str:
    """``value`` with the ``new`` entries added, dropped down to the bound (module docstring)."""
    added = SEPARATOR.join(entry.text() for entry in new)
    if not value:
        return added if len(new) <= MAX_ENTRIES and len(added) <= MAX_CHARS else extended(added, [])
    joined = f"{value}{SEPARATOR}{added}" if added else value
    if value.count(SEPARATOR) + 1 + len(new) <= MAX_ENTRIES and len(joined) <= MAX_CHARS:
        return joined  # within the bound: nothing to parse (the common case, on every hop)
    head, dropped, tail = _split([*parse(value), *new])
    if len(tail) > MAX_ENTRIES - 2:  # a long trail from elsewhere: cut it at once, not one by one
        cut = len(tail) - (MAX_ENTRIES - 2)
        dropped += sum(_count(item) for item in tail[:cut])
        tail = tail[cut:]
    while _too_big(head, dropped, tail):
        if len(tail) > 1:  # the oldest after the first; an entry that did not parse goes first
            victim = next((i for i, item in enumerate(tail[:-1]) if isinstance(item, str)), 0)
            dropped += _count(tail.pop(victim))
        elif head is not None:  # a first entry too large to keep with the newest
            dropped += _count(head)
            head = None
        else:
            break
    return SEPARATOR.join(_text(item) for item in _joined(head, dropped, tail))


def _split(items: list) -> tuple[Entry | Marker | str | None, int, list]:
    """(the first entry, or ``None`` once it was dropped; how many were dropped; the rest)."""
    if isinstance(items[0], Marker):
        return None, items[0].count, items[1:]
    if len(items) > 1 and isinstance(items[1], Marker):
        return items[0], items[1].count, items[2:]
    return items[0], 0, items[1:]


def _joined(head, dropped: int, tail: list) -> list:
    return [*([head] if head is not None else []), *([Marker(dropped)] if dropped else []), *tail]


def _too_big(head, dropped: int, tail: list) -> bool:
    items = _joined(head, dropped, tail)
    return len(items) > MAX_ENTRIES or _size([_text(item) for item in items]) > MAX_CHARS


def _count(item) -> int:
    return item.count if isinstance(item, Marker) else 1


def _size(texts: list[str]) -> int:
    return sum(len(t) for t in texts) + len(SEPARATOR) * max(0, len(texts) - 1)


def _text(item: Entry | Marker | str) -> str:
    return item if isinstance(item, str) else item.text()


def _entry(text: str) -> Entry | Marker | str:
    marker = _MARKER.fullmatch(text)
    if marker:
        return Marker(int(marker.group(1)))
    fields = text.split(" ")
    if len(fields) != 4:
        return text
    try:
        when = datetime.strptime(fields[3], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return text
    return Entry(fields[0], fields[1], fields[2], when)


def _field(text: str) -> str:
    return _UNSAFE.sub("_", text) or "-"


@functools.lru_cache(maxsize=64)  # a process stamps one event, node and place over and over
def _fields(event: str, node: str, where: str) -> str:
    """An entry's first three fields, made safe: three substitutions an entry were a measurable cost."""
    return " ".join((_field(event), _field(node), _field(where)))


@functools.lru_cache(maxsize=4)  # the entries of one second share it
def _second(seconds: int) -> str:
    """UTC ``seconds`` to the second: ``gmtime`` and ``strftime`` for each entry were a measurable cost."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
