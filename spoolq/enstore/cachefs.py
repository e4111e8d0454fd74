"""The disk cache: where a file lives, atomic writes into it, and checksums.

A cached file's place is ``<cache.en.mount>/<cache.en.path>/<cache.en.name>``
(design section 6).  Its conventional place, used when a ticket has no
``cache.en`` (``CACHE_MISSED``), splits the file id into groups of four
characters, like the design's example ``000E/0000/0000/0000/095D``.
"""

from __future__ import annotations

import os
import zlib

from spoolq.errors import SpoolqError


class CacheError(SpoolqError):
    """A cache path is unsafe or a cached file cannot be read or written."""


def conventional_entry(mount: str, file_id: str, node: str = "localhost") -> dict[str, str]:
    """The ``cache.en`` block for ``file_id`` in the cache mounted at ``mount``."""
    stem = file_id[:20]
    path = "/".join(stem[i : i + 4] for i in range(0, len(stem), 4)) or "0"
    return {
        "node": node,
        "mount": mount,
        "path": path,
        "name": file_id,
        "fsfn": f"{node}:{mount}/{path}/{file_id}",
        "id": file_id,
    }


def cached_path(ticket: dict, default_mount: str | None = None, *, inside: str | None = None) -> str:
    """The cache path of the file of ``ticket``; refuses paths that leave the mount.

    With ``inside`` (the configured cache), a ticket naming any other mount is
    refused too: a ticket must never make a worker read or delete other files.
    """
    entry = ticket.get("cache", {}).get("en")
    if entry is None:
        if default_mount is None:
            raise CacheError(f"file {ticket['file']['id']}: ticket has no cache.en")
        entry = conventional_entry(default_mount, ticket["file"]["id"])
    mount = os.path.abspath(entry["mount"])
    path = os.path.abspath(os.path.join(mount, entry["path"], entry["name"]))
    if not path.startswith(mount + os.sep):
        raise CacheError(f"cache entry {entry['path']}/{entry['name']} leaves the cache {mount}")
    if inside is not None and not path.startswith(os.path.abspath(inside) + os.sep):
        raise CacheError(f"file {ticket['file']['id']}: {path} is not in the cache {inside}")
    return path


def adler32(data: bytes) -> int:
    """The checksum the design carries as ``file.crc_adler32``."""
    return zlib.adler32(data) & 0xFFFFFFFF
