"""Finding a message in a spool root by its element name or by an id in its header, without an index.

``spoolq find`` answers "where is this message, and in what state?" on a
root of a hundred thousand elements in about a second, and keeps no index to
do it: an index would be one more thing to keep right across crashes, and
the filesystem already knows what one would hold.

* An element name (``dir/elt``) is found by path, at once: one ``lstat`` per
  spool and parked area.
* An id (``message-id`` or ``correlation-id``) needs the headers: every
  element of every spool and parked area is read, and its header parsed
  only when the id's bytes occur in it at all (a substring test in C), or
  when it holds a ``\\u`` escape (JSON may spell any character so, and
  encoders that write ASCII only do for every other one).  An id of plain
  characters (letters, digits, ``._:@-``) is otherwise written literally,
  so that test never misses; any other id has every header parsed.
  Measured in ``benchmarks/bench_find.py``.

A parked record carries the original's ``message-id`` in its own header; its
``correlation-id`` is read from the original bytes in its body.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from spoolq import envelope
from spoolq.errors import SpoolqError
from spoolq.message import CORRELATION_ID, MESSAGE_ID
from spoolq.spool import layout
from spoolq.spool.element import O_READ, read_open
from spoolq.spool.root import PARKED_DIR, SpoolRoot

#: The header fields an id is looked up in.
ID_FIELDS = (MESSAGE_ID, CORRELATION_ID)
_PLAIN_ID = re.compile(r"[A-Za-z0-9._:@-]+").fullmatch
_ESCAPE = b"\\u"  # a JSON escape: the needle may be spelt with it


@dataclass(frozen=True)
class Located:
    """One element found: where it is and what the filesystem says of it.

    ``area`` is ``spool`` or ``parked``; ``spool`` the spool's name (for a
    parked element, the spool it was parked from); ``header`` the element's
    header (for a parked one, the parked record's); ``original_header`` the
    header of a parked message's original, when it can be read.
    ``lock_time`` is when its lock was taken, ``None`` when not locked.
    """

    area: str
    spool: str
    name: str
    path: str
    size: int
    header: dict[str, str] | None = None
    original_header: dict[str, str] | None = field(default=None, compare=False)
    lock_time: float | None = None

    @property
    def locked(self) -> bool:
        return self.lock_time is not None


def areas(root: SpoolRoot) -> Iterator[tuple[str, str, str]]:
    """Every spool and parked area of ``root``: ``(area, spool name, path)``, spools first."""
    for name in root.spool_names():
        yield "spool", name, os.path.join(root.path, name)
    for name in root.parked_names():
        yield "parked", name, os.path.join(root.path, PARKED_DIR, name)


def find_element(root: SpoolRoot, name: str) -> list[Located]:
    """The element called ``name`` (``dir/elt``) wherever it is in ``root``: one ``lstat`` per area."""
    if not layout.is_element_path(name):
        return []
    found = []
    for area, spool, path in areas(root):
        element_path = f"{path}/{name}"
        try:
            data = _read(element_path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError:
            data = b""  # unreadable (a FIFO, no permission): still where it is
        found.append(_located(area, spool, name, element_path, data))
    return found


def find_id(root: SpoolRoot, wanted: str) -> list[Located]:
    """Every element of ``root`` whose ``message-id`` or ``correlation-id`` is ``wanted``."""
    needle = wanted.encode("utf-8", "surrogateescape") if _PLAIN_ID(wanted) else None
    found = []
    for area, spool, path in areas(root):
        for name, data in elements_holding(path, needle):
            located = _located(area, spool, name, f"{path}/{name}", data)
            headers = (located.header, located.original_header)
            if any(h is not None and wanted in (h.get(f) for f in ID_FIELDS) for h in headers):
                found.append(located)
    return found


def elements_holding(path: str, needle: bytes | None) -> Iterator[tuple[str, bytes]]:
    """The name and bytes of each element of the spool at ``path`` whose bytes may spell ``needle``
    (hold it, or a ``\\u`` escape; every element when ``needle`` is ``None``), oldest first.

    Read through a descriptor of each intermediate directory, so each open
    resolves one name, not the whole path.
    """
    try:
        directories = sorted(d for d in os.listdir(path) if layout.is_directory_name(d))
    except (FileNotFoundError, NotADirectoryError):
        return
    for directory in directories:
        try:
            dir_fd = os.open(f"{path}/{directory}", os.O_RDONLY | os.O_DIRECTORY)
        except (FileNotFoundError, NotADirectoryError):
            continue  # removed by a purge meanwhile
        try:
            entries = layout.element_names(os.listdir(dir_fd))
            entries.sort()
            for entry in entries:
                try:
                    fd = os.open(entry, O_READ | os.O_NONBLOCK, dir_fd=dir_fd)
                except OSError:
                    continue  # consumed meanwhile, or not ours to read
                try:
                    data = read_open(fd)
                except OSError:
                    continue  # a directory, a FIFO: not a message
                finally:
                    os.close(fd)
                if needle is None or needle in data or _ESCAPE in data:
                    yield f"{directory}/{entry}", data
        finally:
            os.close(dir_fd)


def _located(area: str, spool: str, name: str, path: str, data: bytes) -> Located:
    header = envelope.header_of(data)
    original = None
    if area == "parked":
        original = _original_header(data)
    return Located(area, spool, name, path, len(data), header, original, _lock_time(path))


def _original_header(record: bytes) -> dict[str, str] | None:
    """The header of the original a parked record holds in its body (``None``: none, or unreadable)."""
    try:
        return envelope.header_of(envelope.decode(record).body_bytes)
    except (SpoolqError, RecursionError):
        return None


def _lock_time(path: str) -> float | None:
    """When the element at ``path`` was locked, ``None`` when it is not.

    The lock is a hard link whose taker then sets the file's modification
    time (python-dirq's protocol), so the link's ``st_mtime`` is the lock time.
    """
    try:
        return os.lstat(path + layout.LOCKED_SUFFIX).st_mtime
    except OSError:
        return None


def _read(path: str) -> bytes:
    fd = os.open(path, O_READ | os.O_NONBLOCK)
    try:
        return read_open(fd)
    finally:
        os.close(fd)
