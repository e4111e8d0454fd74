"""Events for the Policy Engine (spool ``pe``), design sections 5.1 and 6.

Bodies are the design's tickets::

    {"cache": {"arch": {...}, "ns": {...}, "en": {...}},
     "file": {"name", "id", "size", "crc_adler32"?},
     "enstore": {"bfid"?, "vc": {...}, "location_cookie"?}}

Required fields per type follow section 6.  Read-only fields (``bfid``,
``location_cookie``, ``crc_adler32``, ``external_label``) are required only
where a read needs them (``CACHE_MISSED``); ``volume_family`` is never
required ("NA for W").  ``CACHE_MISSED`` has no ``cache.en`` in the design:
the stage target is then the conventional cache location of ``file.id``.
"""

from __future__ import annotations

from typing import Any

from spoolq.enstore.catalogue.fields import MAPPING, NUMBER, TEXT, build, check, payload
from spoolq.message import Message

CACHE_WRITTEN = "CACHE_WRITTEN"
CACHE_MISSED = "CACHE_MISSED"
CACHE_STAGED = "CACHE_STAGED"
CACHE_PURGED = "CACHE_PURGED"
FILE_DELETED = "FILE_DELETED"
TYPES = (CACHE_WRITTEN, CACHE_MISSED, CACHE_STAGED, CACHE_PURGED, FILE_DELETED)

ARCHIVE_AND_NAMESPACE = {
    "cache.arch.id": TEXT,
    "cache.arch.type": TEXT,
    "cache.ns.id": TEXT,
    "cache.ns.type": TEXT,
}
CACHE_ENTRY = {
    "cache.en.node": TEXT,
    "cache.en.mount": TEXT,
    "cache.en.path": TEXT,
    "cache.en.name": TEXT,
}
FILE = {"file.name": TEXT, "file.id": TEXT, "file.size": NUMBER}
VOLUME_CLERK = {
    "enstore.vc": MAPPING,
    "enstore.vc.library": TEXT,
    "enstore.vc.storage_group": TEXT,
    "enstore.vc.file_family": TEXT,
}
READ_LOCATION = {"enstore.bfid": TEXT, "enstore.location_cookie": TEXT, "file.crc_adler32": NUMBER}

#: Required fields of each event's ticket.
REQUIRED: dict[str, dict[str, tuple[type, ...]]] = {
    CACHE_WRITTEN: {**ARCHIVE_AND_NAMESPACE, **CACHE_ENTRY, **FILE, **VOLUME_CLERK},
    CACHE_MISSED: {**ARCHIVE_AND_NAMESPACE, **FILE, **VOLUME_CLERK, **READ_LOCATION},
    CACHE_STAGED: {**ARCHIVE_AND_NAMESPACE, **CACHE_ENTRY, **FILE},
    CACHE_PURGED: {**ARCHIVE_AND_NAMESPACE, **CACHE_ENTRY, **FILE},
    FILE_DELETED: {"file.name": TEXT, "file.id": TEXT},
}


def check_ticket(type_: str, ticket: Any, *, where: str = "body") -> dict:
    """Check ``ticket`` against the layout of event ``type_`` (Reject naming the field)."""
    return check(ticket, REQUIRED[type_], where=where)


def read_event(message: Message) -> dict:
    """The checked ticket of an event message."""
    return check_ticket(message.type or "", payload(message), where=message.type or "body")


def _event(type_: str, ticket: dict, **headers: str | None) -> Message:
    return build(type_, check_ticket(type_, ticket), **headers)


def cache_written(ticket: dict) -> Message:
    """A file replica was written to the cache (Disk Mover, on close after write)."""
    return _event(CACHE_WRITTEN, ticket)


def cache_missed(ticket: dict, *, reply_to: str | None = None) -> Message:
    """A read found no cached copy; ``reply_to`` is told when the file is staged."""
    return _event(CACHE_MISSED, ticket, reply_to=reply_to)


def cache_staged(ticket: dict) -> Message:
    """A file was restored from the archive into the cache (Migrator)."""
    return _event(CACHE_STAGED, ticket)


def cache_purged(ticket: dict) -> Message:
    """A cached copy was removed (Migrator)."""
    return _event(CACHE_PURGED, ticket)


def file_deleted(ticket: dict) -> Message:
    """A file was deleted in the user namespace."""
    return _event(FILE_DELETED, ticket)


def group_key(ticket: dict) -> str:
    """Files archived together share library, storage group and file family."""
    vc = ticket["enstore"]["vc"]
    return f"{vc['library']}/{vc['storage_group']}/{vc['file_family']}"
