"""Containers: many small files packed into one tar, written whole or not at all.

A container is built in a scratch directory, copied into the archive under a
temporary name by the copy command (the ``encp`` stand-in), fsynced, and only
then renamed to its final name.  A worker killed at any point leaves at most a
``.tmp-`` file that no reader opens.  Members are named by file id.
"""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterable, Sequence

from spoolq.enstore.cachefs import adler32
from spoolq.enstore.copier import copy_file
from spoolq.errors import SpoolqError


class ContainerError(SpoolqError):
    """A container is missing, unreadable, or a member's checksum does not match."""


def pack(members: Iterable[tuple[str, bytes]], scratch_path: str) -> dict[str, int]:
    """Write a tar of ``(member, data)`` pairs to ``scratch_path``; return member checksums."""
    checksums: dict[str, int] = {}
    with tarfile.open(scratch_path, "w") as tar:
        for member, data in members:
            info = tarfile.TarInfo(member)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
            checksums[member] = adler32(data)
    return checksums


def store(scratch_path: str, archive_path: str, command: Sequence[str] | None = None) -> None:
    """Copy a packed container into the archive, atomically (temporary name, fsync, rename)."""
    os.makedirs(os.path.dirname(archive_path), exist_ok=True)
    temporary = f"{archive_path}.tmp-{os.getpid()}"
    try:
        copy_file(scratch_path, temporary, command)
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, archive_path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def fetch(archive_path: str, scratch_path: str, command: Sequence[str] | None = None) -> None:
    """Copy a container out of the archive into scratch space."""
    if not os.path.isfile(archive_path):
        raise ContainerError(f"{archive_path}: container not found in the archive")
    copy_file(archive_path, scratch_path, command)


def unpack(scratch_path: str, wanted: dict[str, int]) -> dict[str, bytes | ContainerError]:
    """Read the ``wanted`` members (name -> expected adler32) from a container.

    Each member maps to its bytes, or to the :class:`ContainerError` saying why
    it cannot be served (absent, unreadable, checksum mismatch).
    """
    found: dict[str, bytes | ContainerError] = {}
    try:
        with tarfile.open(scratch_path, "r") as tar:
            for member in tar:
                if member.name in wanted and member.isfile():
                    found[member.name] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        error = ContainerError(f"{os.path.basename(scratch_path)}: unreadable container: {exc}")
        return {name: found.get(name, error) for name in wanted}
    for name, expected in wanted.items():
        data = found.get(name)
        if data is None:
            found[name] = ContainerError(f"member {name} not in container")
        elif isinstance(data, bytes) and adler32(data) != expected:
            found[name] = ContainerError(f"member {name}: checksum mismatch (adler32)")
    return found
