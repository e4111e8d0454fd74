"""Retry now: make messages that wait out a backoff due at once, as Postfix's ``postqueue -f`` does.

A message waiting out a backoff is an unlocked element whose ``not-before``
header (:mod:`spoolq.component.retry`) lies in the future.  :func:`make_due`
sets that header to the present, and changes nothing else:

* an element another process holds (python-dirq's lock) is left alone,
  and the rewrite itself holds the lock, so no consumer takes the element
  while it is replaced;
* only the bytes of the header's value are replaced (in the envelope as it
  is on disk: another encoder's spacing, the body and every other field stay
  byte for byte), and the result is checked to read back as that header
  before anything is written;
* the new bytes are written beside the element and renamed over it: a
  reader sees the old element or the new one, and a crash leaves one of
  them (a lock or temporary left behind is purged, as any other);
* the element keeps its name, so logs and ``spoolq find`` still name it.

A running watcher keeps a deferred element aside until it is due; the
rename over it is an inotify event for that name, on which the dispatcher
offers it again within a moment (:mod:`spoolq.component.dispatcher`).  A watcher
that polls (no inotify) meets it at its former due time.
"""

from __future__ import annotations

import enum
import json
import os
import re
import time
from collections.abc import Iterator

from spoolq import envelope
from spoolq.component.retry import NOT_BEFORE
from spoolq.errors import SpoolqError
from spoolq.spool import Spool, element, layout
from spoolq.spool.search import elements_holding
from spoolq.spool.temporaries import writer_tag


class Outcome(enum.Enum):
    """What :func:`make_due` did with one element."""

    MADE_DUE = "made due"
    NOT_WAITING = "not waiting"  # no not-before in the future (or gone meanwhile)
    LOCKED = "locked"  # held by another process: left alone
    UNEDITABLE = "uneditable"  # its not-before is not written in a form that can be replaced safely


def waiting(spool: Spool, now: float | None = None) -> Iterator[str]:
    """The names of the elements of ``spool`` whose ``not-before`` lies after ``now``, oldest first."""
    now = time.time() if now is None else now
    for name, data in elements_holding(spool.path, NOT_BEFORE.encode()):
        if _due_time(data) > now:
            yield name


def make_due(spool: Spool, name: str, now: float | None = None) -> Outcome:
    """Set the ``not-before`` of element ``name`` to ``now`` (see the module docstring).

    The new bytes are written (and flushed) beside the element first; the
    lock is held only to check that the element is still what was read and
    to rename the new bytes over it, a few system calls: a watcher that is
    told of the rename finds the lock gone a moment later.
    """
    now = time.time() if now is None else now
    path = spool.path_of(name)
    try:
        info = os.lstat(path)
        data = element.read(path)
    except (OSError, SpoolqError):  # gone meanwhile, or not a file we may read
        return Outcome.NOT_WAITING
    if spool.is_locked(name):
        return Outcome.LOCKED
    if _due_time(data) <= now:
        return Outcome.NOT_WAITING
    rewritten = _with_not_before(data, f"{now:.6f}")
    if rewritten is None:
        return Outcome.UNEDITABLE
    temporary = _write_beside(spool, path, rewritten, info.st_mode & 0o7777)
    try:
        if not element.lock(path):
            return Outcome.LOCKED if os.path.lexists(path) else Outcome.NOT_WAITING
        try:
            if element.read(path) != data:
                return Outcome.NOT_WAITING  # rewritten by another meanwhile: leave it to that one
            os.rename(temporary, path)
        finally:
            element.unlock(path)
    finally:
        element.unlink_quietly(temporary)  # gone once renamed
    if spool.durable:
        element.sync_directory(os.path.dirname(path))
    return Outcome.MADE_DUE


def _due_time(data: bytes) -> float:
    header = envelope.header_of(data)
    if not header:
        return 0.0
    try:
        return float(header.get(NOT_BEFORE, "0"))
    except ValueError:
        return 0.0


def _with_not_before(data: bytes, value: str) -> bytes | None:
    """``data`` with its ``not-before`` value replaced by ``value``; ``None`` when that is not safe.

    A ``"not-before": "..."`` pair with unescaped quotes can only be the
    header's field (inside any JSON string every quote is escaped), so
    exactly one match is the field itself.  The result must read back with
    the new value and every other field unchanged.
    """
    old_header = envelope.header_of(data)
    if old_header is None:
        return None
    quoted = re.escape(json.dumps(old_header[NOT_BEFORE]).encode("utf-8"))
    pattern = re.compile(rb'("not-before"\s*:\s*)' + quoted)
    matches = list(pattern.finditer(data))
    if len(matches) != 1:
        return None
    match = matches[0]
    rewritten = data[: match.start()] + match.group(1) + json.dumps(value).encode() + data[match.end() :]
    new_header = envelope.header_of(rewritten)
    if new_header is None or new_header.get(NOT_BEFORE) != value:
        return None
    if {k: v for k, v in new_header.items() if k != NOT_BEFORE} != {
        k: v for k, v in old_header.items() if k != NOT_BEFORE
    }:
        return None
    return rewritten


def _write_beside(spool: Spool, path: str, data: bytes, mode: int) -> str:
    """Write ``data`` to a temporary beside ``path`` (flushed when the spool is durable); its path."""
    tag = writer_tag()
    temporary = f"{path}.{tag}{layout.TEMPORARY_SUFFIX}" if tag else path + layout.TEMPORARY_SUFFIX
    fd = os.open(temporary, element.O_WRITE, mode)
    try:
        element.write_all(fd, data)
        os.fchmod(fd, mode)
        if spool.durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        element.unlink_quietly(temporary)
        raise
    os.close(fd)
    return temporary
