"""Taking one element in safely: refuse what must not be read, claim the rest.

Before an element's bytes are read it must be a regular file (or a symlink to
one *inside* the spool) no larger than the component's ``max_size``.  What
fails is set aside without being read in full:

* a symlink pointing outside the spool is parked as a record holding the link
  target (the target itself is never opened), and the link removed;
* an element over ``max_size`` is moved, by one rename, to
  ``ROOT/parked/<spool>/oversize/<dir>-<elt>`` and a parked record names it;
* anything else that is not a regular file (a directory, a FIFO) is left
  alone and logged once.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass

from spoolq import element, layout, parking
from spoolq.root import SpoolRoot
from spoolq.spool import Spool

log = logging.getLogger("spoolq.component")
OVERSIZE_DIR = "oversize"


@dataclass(frozen=True)
class Verdict:
    """What intake decided: ``claimed`` (locked, ours to read), else the reason it is not."""

    claimed: bool
    reason: str = ""
    parked: bool = False


TAKEN = Verdict(False, "gone or locked by another worker")


def take(spool: Spool, root: SpoolRoot, name: str, max_size: int) -> Verdict:
    """Check and lock ``name``; park or skip it when it must not be read."""
    path = spool.path_of(name)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return TAKEN
    if stat.S_ISLNK(info.st_mode):
        target = os.path.realpath(path)
        inside = os.path.realpath(spool.path) + os.sep
        if not target.startswith(inside):
            return _park_symlink(spool, root, name, path)
        try:
            info = os.stat(path)
        except FileNotFoundError:
            return Verdict(False, "dangling symlink")
    if not stat.S_ISREG(info.st_mode):
        return Verdict(False, "not a regular file")
    if not element.lock(path):  # spool.lock(name), less checking the name a second time
        return TAKEN
    if info.st_size > max_size:
        return _park_oversize(spool, root, name, info.st_size, max_size)
    return Verdict(True)


def _park_symlink(spool: Spool, root: SpoolRoot, name: str, path: str) -> Verdict:
    try:
        os.link(path, path + layout.LOCKED_SUFFIX, follow_symlinks=False)  # lock the link itself
    except (FileExistsError, FileNotFoundError):
        return TAKEN
    target = os.readlink(path)
    reason = f"symlink pointing outside the spool, to {target!r}: not read"
    parking.park(root, spool.name, os.fsencode(target), reason, element=name)
    spool.remove(name)  # unlinks the link and its lock, never the target
    log.error("%s/%s: parked: %s", spool.path, name, reason)
    return Verdict(False, reason, parked=True)


def _park_oversize(spool: Spool, root: SpoolRoot, name: str, size: int, limit: int) -> Verdict:
    aside_dir = os.path.join(root.parked(spool.name).path, OVERSIZE_DIR)
    os.makedirs(aside_dir, exist_ok=True)
    aside = os.path.join(aside_dir, name.replace("/", "-"))
    os.rename(spool.path_of(name), aside)  # same filesystem: nothing is copied or read
    reason = f"element of {size} bytes exceeds max_size {limit}; moved unread to {aside}"
    parking.park(root, spool.name, b"", reason, element=name)
    try:
        os.unlink(spool.path_of(name) + layout.LOCKED_SUFFIX)
    except FileNotFoundError:
        pass
    log.error("%s/%s: parked: %s", spool.path, name, reason)
    return Verdict(False, reason, parked=True)
