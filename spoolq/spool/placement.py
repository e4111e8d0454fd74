"""Where ext4 puts a spool's new directories: spread over the disk, away from recent deletions.

ext4 gives a new file an inode in its directory's block group, scanning that
group's inode bitmap from the start.  On a filesystem mounted without a
journal it passes over every free inode deleted in the last minute (six while
the inode's table block is not yet written back), looking each one up in the
buffer cache.  Where thousands of files were deleted in the last minutes
(exactly what a spool's consumers do) creating one file then costs 0.6 to
2 ms, against 30 to 50 us in a quiet group: measured on the project's own
root disk, which has no journal (``docs/spool-benchmark.md``).

A new directory normally lands in its parent's group too, so every
intermediate directory and ``.batch-*`` of a spool would inherit its hot
spot.  The ``FS_TOPDIR_FL`` attribute (``chattr +T``) tells ext4 that the
subdirectories of a directory are unrelated trees: it places each in a group
with many free inodes and few directories (the Orlov allocator), so every new
intermediate directory starts its inode search somewhere quiet.  The
attribute is only a placement hint: it changes no name, no content, no
guarantee, and it is not inherited by the subdirectories themselves.  On
filesystems without it (tmpfs among them) or without the right to set it,
nothing changes.
"""

from __future__ import annotations

import fcntl
import os
import struct
import sys

# <linux/fs.h>: _IOR('f', 1, long) and _IOW('f', 2, long); the kernel reads and
# writes an int through them, so the buffer below is a long's size, its first half used.
FS_IOC_GETFLAGS = 0x80086601 if struct.calcsize("l") == 8 else 0x80046601
FS_IOC_SETFLAGS = 0x40086602 if struct.calcsize("l") == 8 else 0x40046602
FS_TOPDIR_FL = 0x00020000


def spread_subdirectories(path: str) -> bool:
    """Ask the filesystem to spread the new subdirectories of ``path``; whether it agreed.

    Best effort by contract: any refusal (not Linux, no such attribute on
    this filesystem, not the directory's owner) returns ``False`` and changes
    nothing.  Setting an attribute already set is not repeated.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        flags = _get_flags(fd)
        if not flags & FS_TOPDIR_FL:
            _set_flags(fd, flags | FS_TOPDIR_FL)
        return True
    except OSError:
        return False  # ENOTTY, EOPNOTSUPP, EPERM, ...: a hint we cannot give
    finally:
        os.close(fd)


def spreads_subdirectories(path: str) -> bool:
    """Whether ``path`` carries the attribute (``lsattr -d`` shows ``T``)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return bool(_get_flags(fd) & FS_TOPDIR_FL)
    except OSError:
        return False
    finally:
        os.close(fd)


def _get_flags(fd: int) -> int:
    buffer = bytearray(struct.calcsize("l"))
    fcntl.ioctl(fd, FS_IOC_GETFLAGS, buffer, True)
    return struct.unpack_from("i", buffer)[0]


def _set_flags(fd: int, flags: int) -> None:
    buffer = bytearray(struct.calcsize("l"))
    struct.pack_into("i", buffer, 0, flags)
    fcntl.ioctl(fd, FS_IOC_SETFLAGS, bytes(buffer))
