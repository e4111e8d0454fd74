"""The python-dirq ``QueueSimple`` on-disk layout, as a contract any program can follow.

A spool directory holds *intermediate directories* named by 8 lowercase hex
digits (the insertion time in seconds, rounded down to a granularity), and in
them *elements* named by 14 lowercase hex digits ``SSSSSSSSMMMMMR``: seconds
since the Epoch, microseconds, and one random digit.  While being written an
element is ``<name>.tmp`` (spoolq's writers put their writer tag before the
suffix, ``<name>.<tag>.tmp``: :mod:`spoolq.spool.temporaries`); while locked it has
a hard link ``<name>.lck``.
A writer in any language creates ``DIR/NAME.tmp``, writes it, and renames it
to ``DIR/NAME`` (never over an existing name).
"""

from __future__ import annotations

import ctypes
import errno
import os
import re
import time

TEMPORARY_SUFFIX = ".tmp"
LOCKED_SUFFIX = ".lck"
DEFAULT_GRANULARITY = 60

is_directory_name = re.compile(r"[0-9a-f]{8}").fullmatch
is_element_name = re.compile(r"[0-9a-f]{14}").fullmatch
is_element_path = re.compile(r"[0-9a-f]{8}/[0-9a-f]{14}").fullmatch
_are_element_names = re.compile(r"[0-9a-f]{14}(?:/[0-9a-f]{14})*").fullmatch


def split_element_path(name: str) -> tuple[str, str]:
    """``dir/elt`` as ``(dir, elt)`` (for a name that passed :data:`is_element_path`)."""
    return name[:8], name[9:]


def element_names(entries: list[str]) -> list[str]:
    """The element names among a directory's ``entries``, in their order.

    Listing is a consumer's hot loop.  The names of 14 characters are kept,
    then checked all at once by one pass of a regular expression over their
    join (``/`` cannot occur in a file name): half the cost of calling
    :data:`is_element_name` on each, and flat per name from 1,000 names to
    100,000, where the call per name grew 2 x (``benchmarks/bench_spool.py``).
    Only when that pass fails, on an odd name of 14 characters, are the
    names checked one by one.
    """
    names = [entry for entry in entries if len(entry) == 14]
    if not names or _are_element_names("/".join(names)):
        return names
    return [name for name in names if is_element_name(name)]


def directory_name(now: float, granularity: int) -> str:
    """The intermediate directory for an element added at ``now``."""
    seconds = int(now)
    if granularity > 1:
        seconds -= seconds % granularity
    return f"{seconds:08x}"


def element_name(now: float, rndhex: int) -> str:
    """A new element name for time ``now`` (sortable, likely unique)."""
    seconds = int(now)
    micros = int((now - seconds) * 1_000_000)
    return f"{seconds:08x}{micros:05x}{rndhex:01x}"


def element_time(name: str) -> float:
    """When an element was named, from its name alone (``dir/elt`` or ``elt``)."""
    elt = name[-14:]
    return int(elt[:8], 16) + int(elt[8:13], 16) / 1_000_000


class ElementNamer:
    """Hands out element names that never repeat within this process.

    dirq retries on a collision; we also make names strictly increasing per
    namer, so that two puts in the same microsecond do not even collide.
    """

    def __init__(self, rndhex: int):
        self.rndhex = rndhex % 16
        self._last = 0  # microseconds since the Epoch of the last name handed out

    def next(self, now: float | None = None) -> str:
        """A fresh name for time ``now`` (default: the current time)."""
        micros = int((time.time() if now is None else now) * 1_000_000)
        if micros <= self._last:
            micros = self._last + 1
        self._last = micros
        seconds, micros = divmod(micros, 1_000_000)
        return f"{seconds:08x}{micros:05x}{self.rndhex:x}"

    def next_many(self, count: int) -> list[str]:
        """``count`` fresh names for the current time, in order (one clock reading for all)."""
        first = max(int(time.time() * 1_000_000), self._last + 1)
        self._last = first + count - 1
        suffix = f"{self.rndhex:x}"
        return [f"{us // 1_000_000:08x}{us % 1_000_000:05x}{suffix}" for us in range(first, first + count)]


# -- renaming without replacing ---------------------------------------------------------
# Publishing an element must never overwrite another writer's element of the same
# name.  dirq does link() + unlink(); renameat2(RENAME_NOREPLACE) does it in one
# system call where the kernel and filesystem allow, which is measurably faster.

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
# The process's own symbols, libc's among them: looking libc up by name
# (ctypes.util.find_library) would import subprocess and cost every command's
# start-up about 10 ms.
_libc = ctypes.CDLL(None, use_errno=True)
_renameat2 = getattr(_libc, "renameat2", None)
if _renameat2 is not None:
    # Declared types let ctypes convert the arguments without guessing (measurably faster).
    _renameat2.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    _renameat2.restype = ctypes.c_int
_use_renameat2 = _renameat2 is not None


def rename_noreplace(source: str, target: str) -> bool:
    """``renameat2(RENAME_NOREPLACE)``: ``True`` when done, ``False`` when the kernel cannot.

    Raises ``OSError`` (``FileExistsError`` when ``target`` exists) for any
    other failure.  Works for directories too, which ``link`` cannot move.
    """
    global _use_renameat2
    if _use_renameat2:
        source_bytes = source.encode("utf-8", "surrogateescape")  # what os.fsencode does, without its call
        target_bytes = target.encode("utf-8", "surrogateescape")
        if _renameat2(_AT_FDCWD, source_bytes, _AT_FDCWD, target_bytes, _RENAME_NOREPLACE) == 0:
            return True
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            raise OSError(err, os.strerror(err), target)
        _use_renameat2 = False  # this filesystem cannot; fall back for good
    return False


def publish(temporary: str, final: str) -> None:
    """Move ``temporary`` to ``final``; raise ``FileExistsError`` if ``final`` exists."""
    if not rename_noreplace(temporary, final):
        os.link(temporary, final)
        os.unlink(temporary)
