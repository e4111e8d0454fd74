"""System calls on one element file, in python-dirq's exact protocol.

These are the hot paths of putting and consuming, kept as bare functions over
paths (no objects, no string building beyond the lock name) because their
cost is what ``benchmarks/bench_spool.py`` measures.  Any program following
dirq's protocol interoperates: lock = ``link(NAME, NAME.lck)`` then
``utime(NAME)``; remove = ``unlink(NAME)`` then ``unlink(NAME.lck)``.
"""

from __future__ import annotations

import errno
import os
import stat

from spoolq.errors import ElementNotFound, SpoolWriteError
from spoolq.spool import layout

WRITE_ERRORS = {
    errno.EACCES: "permission denied; check the owner and mode of the spool directory",
    errno.EPERM: "operation not permitted; check the owner and mode of the spool directory",
    errno.ENOSPC: "no space left on device; free space or move the spool",
    errno.EDQUOT: "disk quota exceeded; free space or raise the quota",
    errno.ENOTDIR: "a path component is not a directory; the spool layout is damaged",
    errno.EROFS: "the filesystem is read-only",
    errno.EIO: "input/output error from the disk",
}

O_WRITE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
O_READ = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
#: Opening an element to take it (read, then lock through the open file): a symlink fails
#: (ELOOP) instead of being followed, and a FIFO opens without waiting for a writer.
O_TAKE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)

# -- unnamed files ----------------------------------------------------------------------
# Linux can create a file with no name in a directory (O_TMPFILE) and give it its
# name afterwards with linkat(/proc/self/fd/N, AT_SYMLINK_FOLLOW), which fails with
# EEXIST rather than replace an existing name.  A put then never shows a ``.tmp``
# at all (a crash leaves nothing to purge), and the publishing system call is a
# native one instead of renameat2 through ctypes: measured on tmpfs, about 4 us of
# a 27 us put (benchmarks/bench_spool.py).
O_UNNAMED = (os.O_WRONLY | os.O_TMPFILE | getattr(os, "O_CLOEXEC", 0)) if hasattr(os, "O_TMPFILE") else 0
#: open(O_TMPFILE) errors that mean "this kernel or filesystem cannot", not "this failed".
UNNAMED_UNSUPPORTED = frozenset({errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOSYS})
CAN_CREATE_UNNAMED = bool(O_UNNAMED) and os.path.isdir("/proc/self/fd")


def link_unnamed(fd: int, final: str) -> None:
    """Give the unnamed file open as ``fd`` the name ``final``; ``FileExistsError`` if taken.

    ``src_dir_fd`` only makes Python call ``linkat`` (which follows the
    ``/proc`` magic link) instead of ``link`` (which would not); the source
    path is absolute, so the directory descriptor itself is ignored.
    """
    os.link(f"/proc/self/fd/{fd}", final, src_dir_fd=fd)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of ``data`` (a short write continues where it stopped)."""
    written = os.write(fd, data)
    if written < len(data):
        view = memoryview(data)[written:]
        while view:
            view = view[os.write(fd, view) :]


def lock(path: str) -> bool:
    """dirq's lock, byte for byte: hard link ``.lck``, then utime so its age is now."""
    lock_path = path + layout.LOCKED_SUFFIX
    try:
        os.link(path, lock_path)
    except (FileExistsError, FileNotFoundError):
        return False
    try:
        os.utime(path)
    except FileNotFoundError:
        # RACE: another consumer locked and removed the element while we linked.
        unlink_quietly(lock_path)
        return False
    return True


def lock_link(path: str) -> bool:
    """Lock the symlink element at ``path`` itself, never what it points to (which may be
    outside the spool, or nothing).  The lock is a hard link to the link."""
    try:
        os.link(path, path + layout.LOCKED_SUFFIX, follow_symlinks=False)
    except (FileExistsError, FileNotFoundError):
        return False
    return True


def unlock(path: str) -> bool:
    """Release the lock of the element at ``path``; ``False`` if it was not held."""
    try:
        os.unlink(path + layout.LOCKED_SUFFIX)
    except FileNotFoundError:
        return False
    return True


def touch(path: str) -> None:
    """Refresh the lock time of the element at ``path`` (dirq's protocol: the element's utime).

    :class:`ElementNotFound` when it cannot be refreshed (gone, or the filesystem refuses).
    """
    try:
        os.utime(path)
    except OSError as exc:
        raise ElementNotFound(f"{path}: cannot refresh lock: {exc}") from None


def lock_open(dir_fd: int, elt: str, fd: int) -> bool:
    """:func:`lock` for an element already open as ``fd``, named ``elt`` in the directory ``dir_fd``.

    The same link as dirq's, relative to the directory; its utime through the
    open descriptor (``futimens``: no lookup at all).  dirq's utime by name
    also notices an element removed in the microseconds after the link; a
    removal a moment later goes unnoticed either way, so that check only
    narrows a window that stays open.  Element names are never reused, so
    the open file is the one linked.
    """
    try:
        os.link(elt, elt + layout.LOCKED_SUFFIX, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
    except (FileExistsError, FileNotFoundError):
        return False
    os.utime(fd)
    return True


def remove_locked_at(dir_fd: int, elt: str) -> None:
    """:func:`remove_locked` for the element ``elt`` of the directory open as ``dir_fd``."""
    try:
        os.unlink(elt, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
    try:
        os.unlink(elt + layout.LOCKED_SUFFIX, dir_fd=dir_fd)
    except OSError:
        pass


def remove_locked(path: str) -> None:
    """Remove an element and then its lock (in dirq's order: never unlocked while present)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    unlink_quietly(path + layout.LOCKED_SUFFIX)


_READ_SIZE = 1 << 16


def read(path: str) -> bytes:
    try:
        fd = os.open(path, O_READ)
    except FileNotFoundError:
        raise ElementNotFound(f"{path}: no such element") from None
    try:
        return read_open(fd)
    finally:
        os.close(fd)


def read_open(fd: int) -> bytes:
    """Every byte of the regular file open as ``fd``, from its current offset."""
    data = os.read(fd, _READ_SIZE)
    if len(data) < _READ_SIZE:
        return data  # a short read of a regular file is its end: one system call saved
    chunks = [data]
    while chunk := os.read(fd, _READ_SIZE):
        chunks.append(chunk)
    return b"".join(chunks)


class TooLarge(Exception):
    """A regular file over the size limit; ``size`` is its size.  Raised before it is read."""

    def __init__(self, size: int):
        super().__init__(size)
        self.size = size


def read_regular(fd: int, max_size: int) -> bytes | None:
    """The bytes of the file open as ``fd``; ``None`` when it is not a regular file (a
    FIFO, a device, a directory).  :class:`TooLarge` when it is over ``max_size``.

    For a descriptor opened with ``O_NONBLOCK``: a FIFO then reads empty or
    fails with EAGAIN instead of blocking, and ``fstat`` tells it apart.
    """
    first = min(_READ_SIZE, max_size + 1)
    try:
        data = os.read(fd, first)
    except OSError as exc:  # EISDIR, EAGAIN (a FIFO with a writer): fstat tells
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        raise exc
    if data and len(data) < first:
        # A short read of a regular file is its end: no fstat needed.  (Device nodes read
        # full, empty or EAGAIN, and take the fstat below; making one needs CAP_MKNOD.)
        return data
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        return None  # an empty read: a FIFO without a writer, a device
    if info.st_size > max_size:
        raise TooLarge(info.st_size)
    return data + read_open(fd)


def write_error(path: str, exc: OSError) -> SpoolWriteError:
    hint = WRITE_ERRORS.get(exc.errno or 0, exc.strerror or str(exc))
    return SpoolWriteError(f"{path}: cannot write: {hint} [{errno.errorcode.get(exc.errno or 0, exc.errno)}]")


#: Why a lock link could not be made, and what the operator can do about it.
LOCK_ERRORS = {
    errno.EPERM: (
        "operation not permitted: the daemon's user must own the element or be allowed to write"
        " the spool (fs.protected_hardlinks refuses a link to another user's file)"
    ),
    errno.EACCES: "permission denied: give the daemon's user write access to the spool directory",
    errno.EROFS: "the filesystem is read-only: remount it read-write",
}


def lock_refusal(path: str, exc: OSError) -> str:
    """One line saying why ``path`` could not be locked, and what to do (for the log)."""
    hint = LOCK_ERRORS.get(exc.errno or 0, exc.strerror or str(exc))
    return f"cannot lock it: {hint} [{errno.errorcode.get(exc.errno or 0, exc.errno)}]"


def unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def sync_directory(path: str) -> None:
    """fsync a directory, so that the names created or renamed in it survive a crash."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_syncfs = getattr(layout._libc, "syncfs", None)


def sync_filesystem_of(path: str, files: list[str]) -> None:
    """Flush written data: one ``syncfs`` if the kernel offers it, else fsync each file."""
    if _syncfs is not None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if _syncfs(fd) == 0:
                return
        finally:
            os.close(fd)
    for file in files:
        fd = os.open(file, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
