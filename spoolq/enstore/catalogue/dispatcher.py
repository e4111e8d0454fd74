"""Migration Dispatcher commands (spool ``md``) and its replies, design section 5.2.

Commands carry a list of file tickets (section 6) under ``files``; replies
carry ``status`` = ``[err, err_msg]``, the ``files`` with their outcome, and
the command's ``message-id`` as ``correlation-id``.
"""

from __future__ import annotations

from spoolq.enstore.catalogue import events
from spoolq.enstore.catalogue.fields import (
    LIST,
    build,
    build_reply,
    check,
    check_list,
    check_status,
    payload,
    require_correlation,
)
from spoolq.message import Message

MDC_ARCHIVE = "MDC_ARCHIVE"
MDC_STAGE = "MDC_STAGE"
MDC_PURGE = "MDC_PURGE"
MDR_ARCHIVED = "MDR_ARCHIVED"
MDR_STAGED = "MDR_STAGED"
MDR_PURGED = "MDR_PURGED"
COMMANDS = (MDC_ARCHIVE, MDC_STAGE, MDC_PURGE)
REPLIES = (MDR_ARCHIVED, MDR_STAGED, MDR_PURGED)
#: The reply that answers each command.
REPLY_OF = dict(zip(COMMANDS, REPLIES, strict=True))

#: Each command's file tickets have the layout of this event.
FILE_LAYOUT = {
    MDC_ARCHIVE: events.CACHE_WRITTEN,
    MDC_STAGE: events.CACHE_MISSED,
    MDC_PURGE: events.CACHE_PURGED,
}


def read_command(message: Message) -> list[dict]:
    """The checked file list of an ``MDC_*`` command."""
    body = payload(message)
    return check_list(body, "files", events.REQUIRED[FILE_LAYOUT[message.type or ""]])


def read_reply(message: Message) -> dict:
    """The checked body of an ``MDR_*`` reply (status, files, correlation-id)."""
    require_correlation(message)
    body = payload(message)
    check_status(body)
    check(body, {"files": LIST})
    return body


def command(type_: str, files: list[dict], *, reply_to: str | None = None, **extra) -> Message:
    """An ``MDC_*`` command for ``files`` (tickets checked before it is built)."""
    check_list({"files": files}, "files", events.REQUIRED[FILE_LAYOUT[type_]])
    return build(type_, {"files": files, **extra}, reply_to=reply_to)


def archive(files: list[dict], **kw) -> Message:
    return command(MDC_ARCHIVE, files, **kw)


def stage(files: list[dict], **kw) -> Message:
    return command(MDC_STAGE, files, **kw)


def purge(files: list[dict], **kw) -> Message:
    return command(MDC_PURGE, files, **kw)


def reply(request: Message, status: list[str], files: list[dict], **headers: str) -> Message:
    """The ``MDR_*`` reply that answers command ``request``."""
    return build_reply(request, REPLY_OF[request.type or ""], {"status": status, "files": files}, **headers)
