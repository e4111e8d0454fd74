"""Taking one element in safely: refuse what must not be read, claim the rest.

Before an element's bytes are used it must be a regular file (or a symlink to
one *inside* the spool) no larger than the component's ``max_size``.  The
spool layer (:mod:`spoolq.spool.taking`) looks, reads and locks; this module
decides.  What fails is set aside without being read in full:

* a symlink pointing outside the spool, or to nothing, is parked as a record
  holding the link target (the target itself is never opened), and the link
  removed;
* an element over ``max_size`` is moved, by one rename, to
  ``ROOT/parked/<spool>/oversize/<dir>-<elt>`` and a parked record names it
  (:func:`spoolq.spool.parking.set_aside`);
* anything else that is not a regular file (a directory, a FIFO) is left
  alone and logged once;
* an element whose lock the filesystem refuses (EPERM, EACCES, EROFS) is left
  in place, untouched, and logged once with the cause; it is offered again
  at each rescan.
"""

from __future__ import annotations

import logging
import os
from typing import NamedTuple

from spoolq.spool import Spool, SpoolRoot, element, parking
from spoolq.spool.directories import DirectoryHandles
from spoolq.spool.taking import (
    GONE,
    LINK_DANGLING,
    LINK_OUTSIDE,
    LOCKED,
    LOOK,
    NOT_REGULAR,
    OVERSIZE,
    REFUSED,
    Taking,
    take_by_path,
    take_open,
)

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
NOT_REGULAR_FILE = Verdict(False, "not a regular file")


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
    taking = take_open(handles, name, max_size)
    if taking.outcome == LOCKED:
        return Verdict(True, "", False, taking.data, taking.dir_fd)
    if taking.outcome == LOOK:
        taking = take_by_path(spool.path, name, max_size)
        if taking.outcome == LOCKED:
            return Verdict(True)
    return _decide(spool, root, name, max_size, taking)


def _decide(spool: Spool, root: SpoolRoot, name: str, max_size: int, taking: Taking) -> Verdict:
    """The verdict on an element not taken the common way."""
    outcome = taking.outcome
    if outcome == GONE:
        return TAKEN
    if outcome == NOT_REGULAR:
        return NOT_REGULAR_FILE
    if outcome == OVERSIZE:
        return _park_oversize(spool, root, name, taking.size, max_size)
    if outcome == LINK_OUTSIDE:
        return _park_symlink(spool, root, name, taking.target, "symlink pointing outside the spool")
    if outcome == LINK_DANGLING:
        return _park_symlink(spool, root, name, taking.target, "dangling symlink")
    assert outcome == REFUSED and taking.error is not None, outcome
    reason = element.lock_refusal(spool.path_of(name), taking.error)
    return Verdict(False, f"{reason}; left in place, tried again at the next rescan", refused=True)


def _park_symlink(spool: Spool, root: SpoolRoot, name: str, target: str, what: str) -> Verdict:
    """Park the locked symlink ``name`` as a record of its target, then remove the link."""
    reason = f"{what}, to {target!r}: not read"
    parked = parking.park(root, spool.name, os.fsencode(target), reason, element=name)
    spool.remove(name)  # unlinks the link and its lock, never the target
    log.error("%s/%s: parked as %s: %s", spool.path, name, parked, reason)
    return Verdict(False, reason, parked=True)


def _park_oversize(spool: Spool, root: SpoolRoot, name: str, size: int, limit: int) -> Verdict:
    aside = parking.aside_path(root, spool.name, name)
    reason = f"element of {size} bytes exceeds max_size {limit}; moved unread to {aside}"
    parking.set_aside(root, spool, name, reason)
    log.error("%s/%s: parked: %s", spool.path, name, reason)
    return Verdict(False, reason, parked=True)
