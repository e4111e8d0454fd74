"""What crashes leave behind in a spool root: temporaries, batch folders, locks, parked messages.

Counted by walking the files, not through the spool API, so that nothing is
missed that the API would skip.  Once a run has settled nothing is in flight,
so every lock still there has no live owner.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from spoolq.spool import SpoolRoot
from spoolq.spool.batch import BATCH_PREFIX
from spoolq.spool.layout import LOCKED_SUFFIX, TEMPORARY_SUFFIX, is_directory_name


@dataclass
class Debris:
    """Leftovers in a spool root: each count is something a crash left and nobody cleaned."""

    temporary: int = 0  # *.tmp files
    batch_folders: int = 0  # .batch-* staging folders
    locks: int = 0  # *.lck links
    parked: int = 0  # messages put aside in parked/
    where: dict[str, int] = field(default_factory=dict)  # "root/spool: kind" -> count

    def total(self) -> int:
        return self.temporary + self.batch_folders + self.locks + self.parked

    def add(self, other: Debris) -> None:
        self.temporary += other.temporary
        self.batch_folders += other.batch_folders
        self.locks += other.locks
        self.parked += other.parked
        self.where.update(other.where)


def debris_of(root: SpoolRoot, label: str) -> Debris:
    """Walk every file under ``root`` once and count the leftovers, spool by spool."""
    found = Debris()
    for directory, folders, files in os.walk(root.path):
        place = f"{label}/{os.path.relpath(directory, root.path)}"
        for folder in folders:
            if folder.startswith(BATCH_PREFIX):
                found.batch_folders += 1
                _note(found, place, "batch folder")
        for name in files:
            if name.endswith(TEMPORARY_SUFFIX):
                found.temporary += 1
                _note(found, place, "tmp")
            elif name.endswith(LOCKED_SUFFIX):
                found.locks += 1
                _note(found, place, "lock")
    for origin in root.parked_names():
        count = root.parked(origin, create=False).count()
        if count:
            found.parked += count
            found.where[f"{label}/parked/{origin}"] = count
    return found


def _note(found: Debris, place: str, kind: str) -> None:
    head, _, last = place.rpartition("/")
    spool = head if is_directory_name(last) else place  # name the spool, not its intermediate directory
    key = f"{spool}: {kind}"
    found.where[key] = found.where.get(key, 0) + 1


def locks_in(root: SpoolRoot) -> int:
    return sum(1 for _, _, files in os.walk(root.path) for name in files if name.endswith(LOCKED_SUFFIX))
