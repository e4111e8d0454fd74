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
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from spoolq import envelope
from spoolq.claim import Claim
from spoolq.errors import SpoolqError
from spoolq.message import MESSAGE_ID, TYPE, Message
from spoolq.root import SpoolRoot

PARKED_FROM = "parked-from"
PARKED_ELEMENT = "parked-element"
PARKED_REASON = "parked-reason"
PARKED_AT = "parked-at"
PARKED_ATTEMPTS = "parked-attempts"


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
    original: bytes


def park(
    root: SpoolRoot,
    origin: str,
    original: bytes,
    reason: str,
    *,
    element: str | None = None,
    attempts: int = 0,
) -> str:
    """Set ``original`` (bytes of an element of spool ``origin``) aside with ``reason``.

    Returns the element name in the parked spool.  The caller removes the
    original only after this returns: a crash in between duplicates, never loses.
    """
    header = {
        PARKED_FROM: origin,
        PARKED_REASON: reason,
        PARKED_AT: f"{time.time():.6f}",
        PARKED_ATTEMPTS: str(attempts),
    }
    if element:
        header[PARKED_ELEMENT] = element
    try:
        decoded = envelope.decode(original)
        for key in (TYPE, MESSAGE_ID):
            if key in decoded.header:
                header[key] = decoded.header[key]
    except Exception:  # noqa: BLE001  (MalformedMessage, RecursionError...: the original is kept as bytes)
        pass  # the copied fields are a convenience; a message that cannot be read is parked all the same
    return root.parked(origin).put(Message(bytes(original), header))


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
    )


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
    only after that write.
    """
    target = root.spool(origin)
    for parked, claim in _locked(root, origin, names):
        target.put(parked.original)
        claim.ack()
        yield parked


def discard(root: SpoolRoot, origin: str, names: Iterable[str]) -> Iterator[ParkedMessage]:
    """Delete the parked messages ``names`` of ``origin`` for good; yields each once it is gone."""
    for parked, claim in _locked(root, origin, names):
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
