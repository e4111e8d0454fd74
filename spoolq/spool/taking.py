"""Taking one element of a spool: look, read and lock it, without trusting what the file is.

The spool layer's half of a consumer's intake.  It knows the file names, the
lock links and the system calls; the caller (``spoolq.component.intake``)
only decides what to do with each :class:`Taking` outcome: handle, park,
skip, or try again later.

The common case costs one ``open`` with ``O_NOFOLLOW`` instead of an
``lstat`` guard before the open: a symlink fails that open (``ELOOP``) and
takes the careful path (:func:`take_by_path`); a FIFO does not block
(``O_NONBLOCK``) and reads empty; a directory fails the read.  The element
is read *before* it is locked: a published element never changes, and if
the lock then fails (another worker took it) the bytes are simply dropped.
The lock is taken while the element is still open (its utime through the
descriptor), relative to the descriptor of the element's directory.
"""

from __future__ import annotations

import os
import stat
from typing import NamedTuple

from spoolq.spool import element, layout
from spoolq.spool.directories import DirectoryHandles

# What became of an attempt to take an element (Taking.outcome).
LOCKED = "locked"  # ours: data read (or None: read it through the claim)
OVERSIZE = "oversize"  # ours (locked), unread: larger than the limit (Taking.size)
GONE = "gone"  # removed, or locked by another consumer
NOT_REGULAR = "not regular"  # a directory, a FIFO, a device: left alone
REFUSED = "refused"  # the filesystem refused the lock (Taking.error): nothing taken
LOOK = "look"  # the open was refused (a symlink, a socket): take it by path instead
LINK_OUTSIDE = "link outside"  # a symlink to outside the spool, itself locked (Taking.target)
LINK_DANGLING = "link dangling"  # a symlink to nothing, itself locked (Taking.target)


class Taking(NamedTuple):
    outcome: str
    data: bytes | None = None
    dir_fd: int | None = None
    size: int = 0
    target: str = ""
    error: OSError | None = None


_GONE = Taking(GONE)
_NOT_REGULAR = Taking(NOT_REGULAR)
_LOOK = Taking(LOOK)


def take_open(handles: DirectoryHandles, name: str, max_size: int) -> Taking:
    """Open ``name`` without following a link, read it whole, lock it through the open file."""
    directory, elt = layout.split_element_path(name)
    try:
        dir_fd, fd = handles.open_in(directory, elt, element.O_TAKE)
    except FileNotFoundError:
        return _GONE
    except OSError:  # ELOOP (a symlink), ENXIO (a socket), EACCES: look before touching
        return _LOOK
    try:
        try:
            data = element.read_regular(fd, max_size)
        except element.TooLarge as large:
            data, size = b"", large.size
        else:
            size = 0
        if data is None:
            return _NOT_REGULAR
        if not element.lock_open(dir_fd, elt, fd):
            return _GONE
    except OSError as exc:
        if exc.errno not in element.LOCK_ERRORS:
            raise
        return Taking(REFUSED, error=exc)
    finally:
        os.close(fd)
    if size:
        return Taking(OVERSIZE, size=size)
    return Taking(LOCKED, data, dir_fd)


def take_by_path(spool_path: str, name: str, max_size: int) -> Taking:
    """The careful way, for what :func:`take_open` would not open: look first (``lstat``), then lock.

    A symlink to a regular file inside the spool is followed (``LOCKED``,
    data left to the claim to read); one pointing outside, or to nothing, is
    locked itself and never followed.
    """
    path = f"{spool_path}/{name}"
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return _GONE
    if stat.S_ISLNK(info.st_mode):
        target = os.path.realpath(path)
        if not target.startswith(os.path.realpath(spool_path) + os.sep):
            return _lock_link(path, LINK_OUTSIDE)
        try:
            info = os.stat(path)
        except FileNotFoundError:
            return _lock_link(path, LINK_DANGLING)
    if not stat.S_ISREG(info.st_mode):
        return _NOT_REGULAR
    try:
        if not element.lock(path):
            return _GONE
    except OSError as exc:
        if exc.errno not in element.LOCK_ERRORS:
            raise
        return Taking(REFUSED, error=exc)
    if info.st_size > max_size:
        return Taking(OVERSIZE, size=info.st_size)
    return Taking(LOCKED)


def _lock_link(path: str, outcome: str) -> Taking:
    """Lock the symlink at ``path`` itself (never its target); its target is in the outcome."""
    try:
        if not element.lock_link(path):
            return _GONE
    except OSError as exc:
        if exc.errno not in element.LOCK_ERRORS:
            raise
        return Taking(REFUSED, error=exc)
    return Taking(outcome, target=os.readlink(path))
