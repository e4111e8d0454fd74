"""Housekeeping of a spool: the figures of ``stats`` and the cleaning of ``purge``.

Both walk the intermediate directories once and tolerate a directory (or an
element) that a concurrent purge or consumer removes underneath them.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass

from spoolq.spool import layout, temporaries
from spoolq.spool.batch import BATCH_PREFIX


@dataclass(frozen=True)
class SpoolStats:
    """What ``spoolq stats`` shows of one spool."""

    ready: int
    locked: int
    temporary: int
    bytes: int
    oldest_age: float | None  # seconds since the oldest element was added


@dataclass(frozen=True)
class PurgeReport:
    """What a purge did."""

    unlocked: int
    temporaries_removed: int
    directories_removed: int


def spool_stats(path: str) -> SpoolStats:
    """What ``spoolq stats`` shows of one spool (one pass over its directories)."""
    ready = locked = temporary = size = 0
    oldest: float | None = None
    directories, stagings = _top_level(path)
    for directory in directories:
        try:
            entries = list(os.scandir(f"{path}/{directory}"))
        except (FileNotFoundError, NotADirectoryError):
            continue
        names = {e.name for e in entries}
        for entry in entries:
            if layout.is_element_name(entry.name):
                if entry.name + layout.LOCKED_SUFFIX in names:
                    locked += 1
                else:
                    ready += 1
                try:
                    size += entry.stat().st_size
                except FileNotFoundError:
                    continue
                born = layout.element_time(entry.name)
                oldest = born if oldest is None else min(oldest, born)
            elif entry.name.endswith(layout.TEMPORARY_SUFFIX):
                temporary += 1
    temporary += sum(len(files) for _, files in _batches_being_written(path, stagings))
    age = None if oldest is None else max(0.0, time.time() - oldest)
    return SpoolStats(ready, locked, temporary, size, age)


def purge(path: str, max_temp_age: float = 300, max_lock_age: float = 600) -> PurgeReport:
    """Unlock stale locks, drop stale temporaries, remove empty directories.

    An age of 0 disables that part.  A temporary whose name shows that its
    writer process has ended (:mod:`spoolq.spool.temporaries`) is stale whatever
    its age: it can never be published.  The newest directory is kept even
    when empty, because a writer may be about to use it.
    """
    now = time.time()
    unlocked = temporaries = removed = 0
    directories, stagings = _top_level(path)
    for directory in directories:
        base = f"{path}/{directory}"
        try:
            entries = os.listdir(base)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.endswith(layout.LOCKED_SUFFIX):
                limit = max_lock_age
            elif entry.endswith(layout.TEMPORARY_SUFFIX):
                limit = max_temp_age
            else:
                continue
            if not limit:
                continue
            try:
                if now - os.stat(f"{base}/{entry}").st_mtime < limit and not _left_by_the_dead(entry):
                    continue
                os.unlink(f"{base}/{entry}")
            except FileNotFoundError:
                continue
            if entry.endswith(layout.LOCKED_SUFFIX):
                unlocked += 1
            else:
                temporaries += 1
    for directory in directories[:-1]:
        try:
            os.rmdir(f"{path}/{directory}")
            removed += 1
        except OSError:
            continue  # not empty, or already gone
    if max_temp_age:
        for staging, files in _batches_being_written(path, stagings):
            try:
                if now - os.stat(staging).st_mtime < max_temp_age and not _left_by_the_dead(staging):
                    continue
            except FileNotFoundError:
                continue  # published (renamed into place) meanwhile
            shutil.rmtree(staging, ignore_errors=True)
            temporaries += len(files)
    return PurgeReport(unlocked, temporaries, removed)


def _left_by_the_dead(name: str) -> bool:
    """A temporary (``.tmp`` or ``.batch-*``) whose writer provably ended: never to be published."""
    return not name.endswith(layout.LOCKED_SUFFIX) and temporaries.writer_is_gone(name)


def _top_level(path: str) -> tuple[list[str], list[str]]:
    """The intermediate directories (oldest first) and the batch staging directories: one listing."""
    try:
        entries = os.listdir(path)
    except FileNotFoundError:
        return [], []
    directories = sorted(e for e in entries if layout.is_directory_name(e))
    return directories, [e for e in entries if e.startswith(BATCH_PREFIX)]


def _batches_being_written(path: str, names: list[str]) -> list[tuple[str, list[str]]]:
    """The ``.batch-*`` staging directories of :mod:`spoolq.spool.batch` named ``names``, and their files.

    One still there long after it was made was left by a crash mid-batch:
    none of its elements was ever visible, so purging it loses nothing the
    writer was told it had.
    """
    found = []
    for name in names:
        try:
            found.append((f"{path}/{name}", os.listdir(f"{path}/{name}")))
        except (FileNotFoundError, NotADirectoryError):
            continue
    return found
