"""Parking: setting a message aside with its reason, and replaying it later.

A parked element is an envelope whose body is the original element's bytes,
untouched (base64 when binary), and whose header says where it came from and
why it was parked.  Nothing about the original is lost, even when it could
not be parsed at all, so :func:`replay` puts back exactly what arrived; what
nobody wants back is deleted with :func:`discard`.

Parked header fields: ``parked-from`` (spool name), ``parked-element`` (its
element name there), ``parked-reason`` (one line, or several with a
traceback), ``parked-at`` (Unix time), ``parked-attempts``, and, when the
original could be read, its ``type`` and ``message-id``.

An element too large to read is not copied into a record: :func:`set_aside`
renames the file itself into ``parked/<spool>/oversize/`` and its record
(with an empty body) names it in ``parked-aside``.  Replay renames that file
back in, unread; discard deletes it with its record.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from spoolq import envelope
from spoolq.errors import SpoolqError
from spoolq.limits import MAX_HEADER_VALUE
from spoolq.message import MESSAGE_ID, TYPE, Message
from spoolq.spool import element as elements
from spoolq.spool import layout
from spoolq.spool.claim import Claim
from spoolq.spool.queue import Spool
from spoolq.spool.root import SpoolRoot

PARKED_FROM = "parked-from"
PARKED_ELEMENT = "parked-element"
PARKED_REASON = "parked-reason"
PARKED_AT = "parked-at"
PARKED_ATTEMPTS = "parked-attempts"
PARKED_ASIDE = "parked-aside"  # the set-aside file holding the original, relative to the parked spool
ASIDE_DIR = "oversize"


@dataclass(frozen=True)
class ParkedMessage:
    """One parked element, as read back."""

    name: str  # element name in the parked spool
    origin: str
    reason: str
    parked_at: float
    attempts: int
    type: str | None
    message_id: str | None
    original: bytes  # empty when the original was set aside whole (``aside``)
    aside: str | None = None  # the file holding the original bytes, when set aside unread
    element: str | None = None  # its element name in the spool it came from (what the log names)

    def known_as(self, ident: str) -> bool:
        """Whether ``ident`` names this message: its parked name, its original element name, its message-id.

        Log lines name the original element (``<spool>/<dir>/<element>``), the
        CLI lists the parked name: an operator may paste either.
        """
        return ident in (self.name, self.element, self.message_id)


def park(
    root: SpoolRoot,
    origin: str,
    original: bytes,
    reason: str,
    *,
    element: str | None = None,
    attempts: int = 0,
    aside: str | None = None,
) -> str:
    """Set ``original`` (bytes of an element of spool ``origin``) aside with ``reason``.

    Returns the element name in the parked spool.  The caller removes the
    original only after this returns: a crash in between duplicates, never loses.
    """
    header = {
        PARKED_FROM: origin,
        PARKED_REASON: fit_header_value(reason),
        PARKED_AT: f"{time.time():.6f}",
        PARKED_ATTEMPTS: str(attempts),
    }
    if element:
        header[PARKED_ELEMENT] = element
    if aside:
        header[PARKED_ASIDE] = aside
    try:
        decoded = envelope.decode(original)
        for key in (TYPE, MESSAGE_ID):
            if key in decoded.header:
                header[key] = decoded.header[key]
    except Exception:  # noqa: BLE001  (MalformedMessage, RecursionError...: the original is kept as bytes)
        pass  # the copied fields are a convenience; a message that cannot be read is parked all the same
    return root.parked(origin).put(Message(bytes(original), header))


def aside_path(root: SpoolRoot, origin: str, name: str) -> str:
    """Where :func:`set_aside` moves the element ``name`` of spool ``origin``."""
    return os.path.join(root.parked(origin).path, ASIDE_DIR, name.replace("/", "-"))


def set_aside(root: SpoolRoot, spool: Spool, name: str, reason: str) -> str:
    """Park the locked element ``name`` of ``spool`` without reading it: moved whole, by one rename.

    The file goes to :func:`aside_path` (same filesystem: nothing is copied),
    then a record naming it is written and the element's lock dropped.
    Returns where the file went.
    """
    aside = aside_path(root, spool.name, name)
    os.makedirs(os.path.dirname(aside), exist_ok=True)
    path = spool.path_of(name)
    os.rename(path, aside)
    relative = f"{ASIDE_DIR}/{os.path.basename(aside)}"
    park(root, spool.name, b"", reason, element=name, aside=relative)
    elements.unlink_quietly(path + layout.LOCKED_SUFFIX)
    return aside


def fit_header_value(text: str) -> str:
    """``text`` cut to MAX_HEADER_VALUE, keeping its start and its end (a traceback's exception).

    A parked record is read back with the same limits as any message: a
    reason past them would make the record itself unreadable.
    """
    if len(text) <= MAX_HEADER_VALUE:
        return text
    cut = " [...] "
    keep = (MAX_HEADER_VALUE - len(cut)) // 2
    return text[:keep] + cut + text[-keep:]


def read_parked(root: SpoolRoot, origin: str, name: str) -> ParkedMessage:
    """Read one parked element of spool ``origin``."""
    message = root.parked(origin).get(name)
    header = message.header
    try:
        attempts = int(header.get(PARKED_ATTEMPTS, "0"))
    except ValueError:
        attempts = 0
    try:
        parked_at = float(header.get(PARKED_AT, "0"))
    except ValueError:
        parked_at = 0.0
    return ParkedMessage(
        name=name,
        origin=header.get(PARKED_FROM, origin),
        reason=header.get(PARKED_REASON, ""),
        parked_at=parked_at,
        attempts=attempts,
        type=header.get(TYPE),
        message_id=header.get(MESSAGE_ID),
        original=message.body_bytes,
        aside=_aside_path(root, origin, header.get(PARKED_ASIDE)),
        element=header.get(PARKED_ELEMENT),
    )


def parked_name_of(root: SpoolRoot, origin: str, ident: str) -> str | None:
    """The parked name of the message of ``origin`` that ``ident`` names (see :meth:`ParkedMessage.known_as`).

    A parked name is taken at once; any other id costs a read of the parked area.
    """
    parked = root.parked(origin, create=False)
    if layout.is_element_path(ident) and parked.exists(ident):
        return ident
    return next((p.name for p in iter_parked(root, origin) if p.known_as(ident)), None)


def _aside_path(root: SpoolRoot, origin: str, relative: str | None) -> str | None:
    """The set-aside file a record names, only ever one inside ``parked/<origin>/oversize/``."""
    if not relative or not _is_aside_name(relative):
        return None
    return os.path.join(root.parked(origin).path, relative)


_is_aside_name = re.compile(ASIDE_DIR + r"/[0-9a-f]{8}-[0-9a-f]{14}").fullmatch


def iter_parked(root: SpoolRoot, origin: str) -> Iterator[ParkedMessage]:
    """Every readable parked message of spool ``origin``, oldest first."""
    for name in root.parked(origin).names():
        try:
            yield read_parked(root, origin, name)
        except SpoolqError:
            continue  # removed meanwhile, or not a parked envelope: leave it be


def replay(root: SpoolRoot, origin: str, names: Iterable[str]) -> Iterator[ParkedMessage]:
    """Move the parked messages ``names`` of ``origin`` back into that spool, one at a time.

    Yields each message after it is back (so a caller can show progress).
    The original bytes are written back unchanged; the parked copy is removed
    only after that write.  An original set aside whole is renamed back in,
    unread.  One whose set-aside file is gone is skipped (and stays parked).
    """
    target = root.spool(origin)
    for parked, claim in _locked(root, origin, names):
        if parked.aside is not None:
            try:
                target.adopt(parked.aside)
            except SpoolqError:
                claim.release()
                if os.path.lexists(parked.aside):
                    raise
                continue  # put back meanwhile by another replay
        else:
            target.put(parked.original)
        claim.ack()
        yield parked


def discard(root: SpoolRoot, origin: str, names: Iterable[str]) -> Iterator[ParkedMessage]:
    """Delete the parked messages ``names`` of ``origin`` for good; yields each once it is gone."""
    for parked, claim in _locked(root, origin, names):
        if parked.aside is not None:
            elements.unlink_quietly(parked.aside)
        claim.ack()
        yield parked


def _locked(root: SpoolRoot, origin: str, names: Iterable[str]) -> Iterator[tuple[ParkedMessage, Claim]]:
    """Each parked message of ``names``, locked by this process, then read.

    The lock makes a replay and a discard running side by side (or two of
    either) take each message once between them: one that another has
    locked or removed meanwhile is skipped, and so is an element that is
    not a parked envelope (left as it was).
    """
    parked_spool = root.parked(origin)
    for name in names:
        claim = parked_spool.claim(name)
        if claim is None:
            continue
        try:
            parked = read_parked(root, origin, name)
        except SpoolqError:
            claim.release()
            continue
        yield parked, claim
