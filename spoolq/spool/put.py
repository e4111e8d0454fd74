"""Writing elements into one spool in python-dirq's format: the put paths of :class:`~spoolq.spool.Spool`.

Three ways in, each for its reason (figures: ``docs/foundation.md``):

* ``put``: an unnamed file (``O_TMPFILE``) written in the current
  intermediate directory and linked in under its element name with
  ``linkat``, which fails rather than replace; where the filesystem cannot,
  a ``.tmp`` renamed with ``renameat2(RENAME_NOREPLACE)`` (or dirq's link and
  unlink).  Durable: the file is fsynced before it is named, its directory
  after.
* ``put_many``: a large batch as one new directory (:mod:`spoolq.spool.batch`); a
  small one as temporaries flushed with one ``syncfs`` before any is named.
* ``adopt``: an existing file renamed in.
"""

from __future__ import annotations

import os
import random
import time

from spoolq.errors import SpoolWriteError
from spoolq.spool import batch, element, layout, placement, temporaries


class ElementWriter:
    """Adds elements to the spool directory ``path``; safe beside other writers and processes."""

    def __init__(self, path: str, granularity: int, durable: bool):
        self.path = path
        self.granularity = granularity
        self.durable = durable
        self._namer = layout.ElementNamer(random.randrange(16))
        self._directory = ""  # the current intermediate directory, recomputed when its time is up
        self._directory_end = 0.0
        self._unnamed = element.CAN_CREATE_UNNAMED  # False once the filesystem says it cannot
        self._batches = batch.BatchPublisher(path, self._namer, granularity, durable)
        self._spread = False  # whether new directories were asked to spread (spoolq.spool.placement)

    def put(self, data: bytes) -> str:
        """Add one element; return its name ``dir/elt``."""
        if self._unnamed:
            name = self._put_unnamed(data)
            if name is not None:
                return name
        directory, temporary = self._write_temporary(data, sync=self.durable)
        # Publish under the temporary's own name: fresh from our namer, so almost always free.
        start = len(self.path) + len(directory) + 2
        elt = temporary[start : start + 14]
        try:
            layout.publish(temporary, f"{self.path}/{directory}/{elt}")
            name = f"{directory}/{elt}"
        except OSError:
            name = self._publish(directory, temporary)  # taken, or an error to report
        if self.durable:
            element.sync_directory(f"{self.path}/{directory}")
        return name

    def _put_unnamed(self, data: bytes) -> str | None:
        """``put`` through an unnamed file linked in under its element name.

        Returns ``None`` (and stops trying, for this spool) when the
        filesystem cannot create unnamed files; the caller then writes a
        ``.tmp`` and renames it.
        """
        now = time.time()
        directory = self._directory if now < self._directory_end else self._directory_for(now)
        where = f"{self.path}/{directory}"
        for _attempt in range(3):
            try:
                fd = os.open(where, element.O_UNNAMED, 0o666)
                break
            except FileNotFoundError:
                self._make_directory(directory)  # new, or removed by a purge: make it, retry
            except OSError as exc:
                if exc.errno in element.UNNAMED_UNSUPPORTED:
                    self._unnamed = False
                    return None
                raise element.write_error(where, exc) from None
        else:
            raise SpoolWriteError(f"{where}: cannot create an element after 3 attempts")
        try:
            element.write_all(fd, data)
            if self.durable:
                os.fsync(fd)
            name = self._link_unnamed(fd, directory, now)
        except OSError as exc:
            raise element.write_error(where, exc) from None
        finally:
            os.close(fd)  # an unnamed file that was never linked vanishes here
        if self.durable:
            element.sync_directory(where)
        return name

    def _link_unnamed(self, fd: int, directory: str, now: float) -> str:
        for _attempt in range(3):
            elt = self._namer.next(now)
            try:
                element.link_unnamed(fd, f"{self.path}/{directory}/{elt}")
                return f"{directory}/{elt}"
            except FileExistsError:
                continue  # another writer chose this name in the same microsecond
            except FileNotFoundError:
                # RACE: a purge removed the (still empty-looking) directory after our open.
                self._make_directory(directory)
        raise SpoolWriteError(f"{self.path}/{directory}: cannot name an element after 3 attempts")

    def _directory_for(self, now: float) -> str:
        """The intermediate directory for ``now``, remembered until its time is up."""
        directory = self._directory = layout.directory_name(now, self.granularity)
        self._directory_end = int(directory, 16) + max(self.granularity, 1)
        return directory

    def put_many(self, datas: list[bytes]) -> list[str]:
        """Add several elements, paying for the flushes once per batch.

        A batch of at least :data:`~spoolq.spool.batch.DIRECTORY_BATCH_MIN` is
        published as one new intermediate directory, all at once
        (:mod:`spoolq.spool.batch`).  A smaller one is written as temporaries whose
        data is flushed with one ``syncfs`` (where the kernel offers it)
        before any is renamed to its element name.  Either way a crash leaves
        each element absent or whole.
        """
        if len(datas) >= batch.DIRECTORY_BATCH_MIN:
            self._spread_once()
            names = self._batches.publish(datas)
            if names is not None:
                # Later puts of this interval join the batch's directory, so that
                # they list after it, as they were put.
                self._directory_for(time.time())
                self._directory = names[0][:8]
                return names
        pending: list[tuple[str, str]] = []
        names: list[str] = []
        try:
            for data in datas:
                pending.append(self._write_temporary(data, sync=False))
            if self.durable and pending:
                element.sync_filesystem_of(os.path.join(self.path, pending[0][0]), [t for _, t in pending])
            for directory, temporary in pending:
                names.append(self._publish(directory, temporary))
        except BaseException:
            self._withdraw(pending[len(names) :], names)
            raise
        if self.durable:
            for directory in sorted({d for d, _ in pending}):
                element.sync_directory(os.path.join(self.path, directory))
        return names

    def _withdraw(self, temporaries: list[tuple[str, str]], names: list[str]) -> None:
        """Undo a failed ``put_many``: remove its temporaries, and the elements it published.

        An element already published is removed only through its lock, as a
        consumer would: one a consumer has claimed meanwhile is left to it
        (handled once more when the caller tries again: at least once).
        """
        for _, temporary in temporaries:
            element.unlink_quietly(temporary)
        for name in names:
            path = f"{self.path}/{name}"
            if element.lock(path):
                element.remove_locked(path)

    def adopt(self, path: str | os.PathLike) -> str:
        """Move an existing file on the same filesystem into the spool, atomically."""
        directory = layout.directory_name(time.time(), self.granularity)
        self._make_directory(directory)
        try:
            name = self._publish(directory, os.fspath(path))
        except OSError as exc:
            raise element.write_error(os.fspath(path), exc) from None
        if self.durable:
            element.sync_directory(os.path.join(self.path, directory))
        return name

    def _write_temporary(self, data: bytes, sync: bool) -> tuple[str, str]:
        now = time.time()
        directory = self._directory if now < self._directory_end else self._directory_for(now)
        tag = temporaries.writer_tag()
        own = f".{tag}{layout.TEMPORARY_SUFFIX}" if tag else layout.TEMPORARY_SUFFIX
        for _attempt in range(3):
            temporary = f"{self.path}/{directory}/{self._namer.next(now)}{own}"
            try:
                fd = os.open(temporary, element.O_WRITE, 0o666)
            except FileNotFoundError:
                # A new intermediate directory (or a purge removed it): make it, retry.
                self._make_directory(directory)
                continue
            except FileExistsError:
                continue
            except OSError as exc:
                raise element.write_error(temporary, exc) from None
            try:
                element.write_all(fd, data)
                if sync:
                    os.fsync(fd)
            except OSError as exc:
                os.close(fd)
                element.unlink_quietly(temporary)
                raise element.write_error(temporary, exc) from None
            os.close(fd)
            return directory, temporary
        raise SpoolWriteError(f"{self.path}/{directory}: cannot create an element after 3 attempts")

    def _spread_once(self) -> None:
        """Before this writer's first new directory: place them away from recent deletions."""
        if not self._spread:
            self._spread = True
            placement.spread_subdirectories(self.path)

    def _make_directory(self, directory: str) -> None:
        self._spread_once()
        full = f"{self.path}/{directory}"
        try:
            os.mkdir(full)
        except FileExistsError:
            return
        except OSError as exc:
            raise element.write_error(full, exc) from None
        if self.durable:
            element.sync_directory(self.path)

    def _publish(self, directory: str, temporary: str) -> str:
        """Rename ``temporary`` to an element name, never over an existing element.

        The temporary's own element name (its first 14 characters, before
        the writer tag and ``.tmp``) is tried first: it is fresh from our
        namer, so it is almost always free.
        """
        base = f"{self.path}/{directory}/"
        ours = temporary.startswith(base) and temporary.endswith(layout.TEMPORARY_SUFFIX)
        elt = temporary[len(base) : len(base) + 14] if ours else self._namer.next()
        while True:
            try:
                layout.publish(temporary, base + elt)
                return f"{directory}/{elt}"
            except FileExistsError:
                elt = self._namer.next()  # another writer chose this name in the same microsecond
            except OSError as exc:
                if ours:  # never delete an adopted file that could not be moved in
                    element.unlink_quietly(temporary)
                raise element.write_error(base + elt, exc) from None
