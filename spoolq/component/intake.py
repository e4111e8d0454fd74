"""Taking one element in safely: refuse what must not be read, claim the rest.

Before an element's bytes are used it must be a regular file (or a symlink to
one *inside* the spool) no larger than the component's ``max_size``.  What
fails is set aside without being read in full:

* a symlink pointing outside the spool, or to nothing, is parked as a record
  holding the link target (the target itself is never opened), and the link
  removed;
* an element over ``max_size`` is moved, by one rename, to
  ``ROOT/parked/<spool>/oversize/<dir>-<elt>`` and a parked record names it;
* anything else that is not a regular file (a directory, a FIFO) is left
  alone and logged once;
* an element whose lock the filesystem refuses (EPERM, EACCES, EROFS) is left
  in place, untouched, and logged once with the cause; it is offered again
  at each rescan.

The common case costs one ``open`` with ``O_NOFOLLOW`` instead of an
``lstat`` guard before the open: a symlink fails that open (``ELOOP``) and
takes the careful path; a FIFO does not block (``O_NONBLOCK``) and reads
empty; a directory fails the read.  So only an empty or long first read, or
a failed one, needs an ``fstat`` to tell what the file is.  The element is
read *before* it is locked: a published element never changes, and if the
lock then fails (another worker took it) the bytes are simply dropped.  The
lock is taken while the element is still open (its utime through the
descriptor), and the open and the link are relative to the descriptor of the
element's directory (:mod:`spoolq.directories`).
"""

from __future__ import annotations

import logging
import os
import stat
from typing import NamedTuple

from spoolq import element, layout, parking
from spoolq.directories import DirectoryHandles
from spoolq.root import SpoolRoot
from spoolq.spool import Spool

log = logging.getLogger("spoolq.component")


class Verdict(NamedTuple):
    """What intake decided: ``claimed`` (locked, ours), else the reason it is not.

    ``data`` holds the element's bytes when intake read them (``None``: read
    them through the claim); ``dir_fd`` the descriptor of its directory it was
    locked through (``None``: by path).
    """

    claimed: bool
    reason: str = ""
    parked: bool = False
    data: bytes | None = None
    dir_fd: int | None = None
    refused: bool = False  # the filesystem refused the lock: left in place, tried again later


TAKEN = Verdict(False, "gone or locked by another worker")
NOT_REGULAR = Verdict(False, "not a regular file")


def take(
    spool: Spool, root: SpoolRoot, name: str, max_size: int, handles: DirectoryHandles | None = None
) -> Verdict:
    """Check, read and lock ``name``; park or skip it when it must not be read.

    ``name`` must be a valid ``dir/elt`` element name: the dispatcher offers
    no other (it checks every name it meets), so it is not checked again here.

    ``handles``: the calling worker's directory descriptors; the system calls
    on the element are made relative to its directory (without them, one is
    opened for this call).
    """
    if handles is None:
        with DirectoryHandles(spool.path) as own:  # closed on return: the claim acks by path
            verdict = take(spool, root, name, max_size, own)
        return verdict if verdict.dir_fd is None else verdict._replace(dir_fd=None)
    directory, elt = name[:8], name[9:]
    try:
        dir_fd, fd = handles.open_in(directory, elt, element.O_TAKE)
    except FileNotFoundError:
        return TAKEN
    except OSError:  # ELOOP (a symlink), ENXIO (a socket), EACCES: look before touching
        return _take_checked(spool, root, name, spool.path_of(name), max_size)
    try:
        content = element.read_regular(fd, max_size)
        if content is None:
            return NOT_REGULAR
        if not element.lock_open(dir_fd, elt, fd):
            return TAKEN
    except OSError as exc:  # EPERM, EACCES, EROFS: the link was refused
        if exc.errno not in element.LOCK_ERRORS:
            raise
        return _refused(spool, name, exc)
    finally:
        os.close(fd)
    if type(content) is int:
        return _park_oversize(spool, root, name, content, max_size)
    return Verdict(True, "", False, content, dir_fd)


def _refused(spool: Spool, name: str, exc: OSError) -> Verdict:
    """The lock was refused (permissions, a read-only filesystem): nothing taken, nothing lost."""
    reason = element.lock_refusal(spool.path_of(name), exc)
    return Verdict(False, f"{reason}; left in place, tried again at the next rescan", refused=True)


def _take_checked(spool: Spool, root: SpoolRoot, name: str, path: str, max_size: int) -> Verdict:
    """The careful path for what ``O_NOFOLLOW`` would not open: look first (``lstat``), then lock."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return TAKEN
    if stat.S_ISLNK(info.st_mode):
        target = os.path.realpath(path)
        inside = os.path.realpath(spool.path) + os.sep
        if not target.startswith(inside):
            return _park_symlink(spool, root, name, path, "symlink pointing outside the spool")
        try:
            info = os.stat(path)
        except FileNotFoundError:
            return _park_symlink(spool, root, name, path, "dangling symlink")
    if not stat.S_ISREG(info.st_mode):
        return NOT_REGULAR
    try:
        if not element.lock(path):
            return TAKEN
    except OSError as exc:
        if exc.errno not in element.LOCK_ERRORS:
            raise
        return _refused(spool, name, exc)
    if info.st_size > max_size:
        return _park_oversize(spool, root, name, info.st_size, max_size)
    return Verdict(True)


def _park_symlink(spool: Spool, root: SpoolRoot, name: str, path: str, what: str) -> Verdict:
    try:
        os.link(path, path + layout.LOCKED_SUFFIX, follow_symlinks=False)  # lock the link itself
    except (FileExistsError, FileNotFoundError):
        return TAKEN
    except OSError as exc:
        if exc.errno not in element.LOCK_ERRORS:
            raise
        return _refused(spool, name, exc)
    target = os.readlink(path)
    reason = f"{what}, to {target!r}: not read"
    parking.park(root, spool.name, os.fsencode(target), reason, element=name)
    spool.remove(name)  # unlinks the link and its lock, never the target
    log.error("%s/%s: parked: %s", spool.path, name, reason)
    return Verdict(False, reason, parked=True)


def _park_oversize(spool: Spool, root: SpoolRoot, name: str, size: int, limit: int) -> Verdict:
    aside = parking.aside_path(root, spool.name, name)
    reason = f"element of {size} bytes exceeds max_size {limit}; moved unread to {aside}"
    parking.set_aside(root, spool, name, reason)
    log.error("%s/%s: parked: %s", spool.path, name, reason)
    return Verdict(False, reason, parked=True)
