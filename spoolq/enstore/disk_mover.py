"""Disk Mover stand-in: the cache front end that writes files and reports reads that miss.

``write`` (the writer hook, with a :class:`CacheFile`) puts a file into the
cache atomically and tells the Policy Engine (``CACHE_WRITTEN`` to ``pe``).
``read`` returns the cached bytes, or, when the file is no longer cached,
sends ``CACHE_MISSED`` (with the archive location from the file records) and
returns ``None``; the Policy Engine answers on ``reply_spool`` once the file
is staged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from spoolq.enstore import filedb
from spoolq.enstore.cachefs import cached_path, conventional_entry
from spoolq.enstore.catalogue import events
from spoolq.errors import SpoolqError
from spoolq.routing import Address
from spoolq.spool import SpoolRoot
from spoolq.spool.atomic_file import write_atomically
from spoolq.writers.base import Writer


@dataclass(frozen=True)
class Family:
    """Where a file belongs on tape: the group the Policy Engine archives together."""

    library: str = "CD-LTO4G1"
    storage_group: str = "demo"
    file_family: str = "small_files"
    wrapper: str = "cpio_odc"


@dataclass(frozen=True)
class CacheFile:
    """One file for the cache: the Disk Mover's writer item."""

    file_id: str
    name: str  # the namespace path, e.g. /pnfs/demo/file1.dat
    data: bytes
    family: Family = Family()


class DiskMover(Writer[CacheFile]):
    """Writes into ``cache`` and reads back; ``archive`` holds the file records.

    ``node`` is the node it runs on: it names the cache in the tickets, and
    ``pe_spool`` may be ``pe@NODE`` when the Policy Engine runs on another node.
    """

    name = "disk_mover"

    def __init__(
        self, root: SpoolRoot, cache: str, archive: str, *, pe_spool: str = "pe", node: str = "localhost"
    ):
        super().__init__(root, node=node)
        self.cache = os.path.abspath(cache)
        self.archive = os.path.abspath(archive)
        self.pe_spool = str(Address.parse(pe_spool))  # a bad address is refused before any file is cached
        self.node = node

    def ticket(self, file_id: str, name: str, size: int, family: Family) -> dict:
        """The design's ticket (section 6) for a file of the cache."""
        return {
            "cache": {
                "arch": {"id": "demo", "type": "enstore"},
                "ns": {"id": "demo", "type": "pnfs", "mnt": "/pnfs/demo"},
                "en": conventional_entry(self.cache, file_id, self.node),
            },
            "file": {"name": name, "id": file_id, "size": size},
            "enstore": {"vc": {**family.__dict__, "file_family_width": "1"}},
        }

    def write(self, item: CacheFile) -> str:
        """Store the file in the cache and emit ``CACHE_WRITTEN``; the element name of that message."""
        ticket = self.ticket(item.file_id, item.name, len(item.data), item.family)
        write_atomically(cached_path(ticket), item.data, durable=False)
        return self.emit(self.pe_spool, events.cache_written(ticket))

    def read(self, file_id: str, name: str, *, reply_spool: str, family: Family = Family()) -> bytes | None:
        """The cached bytes of ``file_id``, or ``None`` after asking for a stage."""
        ticket = self.ticket(file_id, name, 0, family)
        try:
            with open(cached_path(ticket), "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            pass
        record = filedb.locate(self.archive, file_id)
        if record is None:
            raise SpoolqError(f"file {file_id} is neither cached nor archived")
        ticket["file"].update(size=record["size"], crc_adler32=record["crc_adler32"])
        ticket["enstore"].update(bfid=record["container"], location_cookie=record["member"])
        self.emit(self.pe_spool, events.cache_missed(ticket, reply_to=reply_spool))
        return None
