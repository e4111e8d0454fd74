"""Migration Worker commands (spool ``mw``, or ``mw_<worker>``) and replies (``md_reply``).

Naming: the design spells these two ways -- ``MDW_*`` commands with ``MDR_*``
replies in section 5.3, and classes ``MWC*``/``MWR*`` in section 7.5.  The
canonical spelling here is ``MWC_<ACTION>`` for commands and ``MWR_<STATE>`` for
replies: it follows the ``MDC_``/``MDR_`` pattern of the dispatcher and, unlike
section 5.3, does not reuse the dispatcher's own ``MDR_*`` names for worker
replies.  The section 5.3 spellings are accepted on read (:func:`canonical`).

Bodies: a command names its ``part`` (the dispatcher's unit of work) and its
``files``; ``MWC_STAGE`` also its ``container``.  A reply carries ``status``
``[err, err_msg]``, ``part``, ``worker`` and per-file outcomes.
"""

from __future__ import annotations

from typing import Any

from spoolq.enstore.catalogue import events
from spoolq.enstore.catalogue.fields import (
    LIST,
    TEXT,
    build,
    build_reply,
    check,
    check_list,
    check_status,
    payload,
    require_correlation,
)
from spoolq.errors import Reject
from spoolq.message import Message

MWC_ARCHIVE = "MWC_ARCHIVE"
MWC_STAGE = "MWC_STAGE"
MWC_PURGE = "MWC_PURGE"
MWC_STATUS = "MWC_STATUS"
MWR_ARCHIVED = "MWR_ARCHIVED"
MWR_STAGED = "MWR_STAGED"
MWR_PURGED = "MWR_PURGED"
MWR_STATUS = "MWR_STATUS"
COMMANDS = (MWC_ARCHIVE, MWC_STAGE, MWC_PURGE, MWC_STATUS)
REPLIES = (MWR_ARCHIVED, MWR_STAGED, MWR_PURGED, MWR_STATUS)
REPLY_OF = dict(zip(COMMANDS, REPLIES, strict=True))

#: Section 5.3 spellings, accepted on read.  ``MDR_ARCHIVED`` & co. are worker
#: replies only when they arrive on the dispatcher's worker-reply spool.
ALIASES = {
    "MDW_ARCHIVE": MWC_ARCHIVE,
    "MDW_STAGE": MWC_STAGE,
    "MDW_PURGE": MWC_PURGE,
    "MDW_STATUS": MWC_STATUS,
    "MDR_STATUS": MWR_STATUS,
}
REPLY_ALIASES = {"MDR_ARCHIVED": MWR_ARCHIVED, "MDR_STAGED": MWR_STAGED, "MDR_PURGED": MWR_PURGED}

FILE_LAYOUT = {
    MWC_ARCHIVE: events.CACHE_WRITTEN,
    MWC_STAGE: events.CACHE_MISSED,
    MWC_PURGE: events.CACHE_PURGED,
}


def canonical(type_: str | None, *, reply: bool = False) -> str:
    """The canonical name of a worker message type (aliases of section 5.3 mapped)."""
    type_ = type_ or ""
    if reply and type_ in REPLY_ALIASES:
        return REPLY_ALIASES[type_]
    return ALIASES.get(type_, type_)


def read_command(message: Message) -> tuple[str, dict]:
    """``(canonical type, checked body)`` of a worker command."""
    type_ = canonical(message.type)
    if type_ not in COMMANDS:
        raise Reject(f"not a worker command: {message.type!r}")
    body = payload(message)
    if type_ == MWC_STATUS:
        return type_, body
    check(body, {"part": TEXT})
    if type_ == MWC_STAGE:
        check(body, {"container": TEXT})
    check_list(body, "files", events.REQUIRED[FILE_LAYOUT[type_]])
    return type_, body


def read_reply(message: Message) -> tuple[str, dict]:
    """``(canonical type, checked body)`` of a worker reply."""
    type_ = canonical(message.type, reply=True)
    if type_ not in REPLIES:
        raise Reject(f"not a worker reply: {message.type!r}")
    require_correlation(message)
    body = payload(message)
    check_status(body)
    check(body, {"worker": TEXT} if type_ == MWR_STATUS else {"part": TEXT, "worker": TEXT, "files": LIST})
    return type_, body


def command(type_: str, part: str, files: list[dict], *, reply_to: str, **extra: Any) -> Message:
    """A worker command for one part of a dispatcher request."""
    check_list({"files": files}, "files", events.REQUIRED[FILE_LAYOUT[type_]])
    return build(type_, {"part": part, "files": files, **extra}, reply_to=reply_to)


def status_query(part: str | None, *, reply_to: str) -> Message:
    """Ask a worker (on its own spool) what it is doing."""
    return build(MWC_STATUS, {"part": part}, reply_to=reply_to)


def reply(request: Message, status: list[str], body: dict[str, Any], *, progress: bool = False) -> Message:
    """The ``MWR_*`` reply to worker command ``request`` (``MWR_STATUS`` when ``progress``)."""
    type_ = MWR_STATUS if progress else REPLY_OF[canonical(request.type)]
    return build_reply(request, type_, {"status": status, **body})
