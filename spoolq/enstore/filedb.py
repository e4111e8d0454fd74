"""Where each archived file went: one small JSON record per file id.

The record (``container``, ``member``, ``crc_adler32``, ``size``) is what the
Disk Mover needs to ask for a stage (``enstore.bfid`` = container,
``enstore.location_cookie`` = member).  Records live in
``<archive>/.files/<file id>.json`` and are written after the container is in
place, so a record never points at a container that is not there.
"""

from __future__ import annotations

import json
import os

from spoolq.spool.atomic_file import write_atomically

FILES_DIR = ".files"


def record_path(archive_dir: str, file_id: str) -> str:
    return os.path.join(archive_dir, FILES_DIR, f"{os.path.basename(file_id)}.json")


def record(archive_dir: str, file_id: str, location: dict) -> None:
    """Remember ``location`` of ``file_id``."""
    data = json.dumps(location, sort_keys=True).encode()
    write_atomically(record_path(archive_dir, file_id), data, durable=False)


def locate(archive_dir: str, file_id: str) -> dict | None:
    """The location record of ``file_id``, or ``None`` if it is not archived."""
    try:
        with open(record_path(archive_dir, file_id), encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
