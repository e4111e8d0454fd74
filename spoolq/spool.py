"""A spool: one directory queue in the python-dirq ``QueueSimple`` format.

``dirq`` owns the format and does ``unlock`` and ``touch``.  The other paths
are our own, byte-compatible with dirq, each for a measured or correctness
reason (figures: ``benchmarks/bench_spool.py``, ``docs/foundation.md``):

* ``put``: dirq neither fsyncs nor gives up on a create error other than a
  missing directory (it loops forever on EACCES, ENOSPC, ENOTDIR), and it is
  slower than a path of bare system calls: one ``time.time()``, one
  unnamed file (``O_TMPFILE``) written and linked in under its element name
  (``.tmp`` and ``renameat2`` where the filesystem cannot).  Measured on
  tmpfs: about 1.7 x dirq's ``add``; ``put_many`` publishes a large batch as
  one directory (:mod:`spoolq.batch`).
* ``lock`` and consuming (``Claim``): the same two system calls as dirq
  (``link`` to ``.lck``, then ``utime`` so that the lock's age is the lock
  time), without its per-call string building and error wrapping; a claim
  reads its element with one ``read`` and removes it without re-checking a
  lock it holds.  Together these lifted consuming from 1.0 x to about 1.3 x
  dirq's lock/get/remove on tmpfs (measured before and after).
* listing and counting: dirq pops from the front of a list (cost per element
  grows with the queue) and fails when a concurrent purge removes a directory.
* ``remove``: dirq deletes the element before finding it was not locked.
* ``purge``: dirq's fails on the same concurrent-removal race.

The system calls on one element live in :mod:`spoolq.element`, a held element
in :mod:`spoolq.claim`, ``stats`` and ``purge`` in :mod:`spoolq.housekeeping`.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterable, Iterator

from dirq.QueueSimple import QueueSimple

from spoolq import batch, element, envelope, housekeeping, layout
from spoolq.claim import Claim
from spoolq.errors import ElementNotFound, NotLocked, SpoolError, SpoolWriteError
from spoolq.housekeeping import PurgeReport, SpoolStats
from spoolq.message import Message


class Spool:
    """One directory queue.  Safe to use from several processes at once.

    ``durable`` (the default) fsyncs each element and its directory before
    :meth:`put` returns; a non-durable spool leaves that to the kernel.
    ``granularity`` is the seconds covered by one intermediate directory.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        durable: bool = True,
        granularity: int = layout.DEFAULT_GRANULARITY,
        umask: int | None = None,
        create: bool = True,
    ):
        self.path = os.fspath(path)
        self.durable = durable
        self.granularity = granularity
        if not create and not os.path.isdir(self.path):
            raise SpoolError(f"{self.path}: no such spool; create it with 'spoolq init'")
        try:
            self._dirq = QueueSimple(self.path, umask=umask, granularity=granularity)
        except OSError as exc:
            raise element.write_error(self.path, exc) from None
        self._namer = layout.ElementNamer(random.randrange(16))
        self._directory = ""  # the current intermediate directory, recomputed when its time is up
        self._directory_end = 0.0
        self._unnamed = element.CAN_CREATE_UNNAMED  # False once the filesystem says it cannot
        self._batches = batch.BatchPublisher(self.path, self._namer, granularity, durable)

    @property
    def name(self) -> str:
        return os.path.basename(self.path.rstrip("/"))

    def __repr__(self) -> str:
        return f"Spool({self.path!r})"

    # -- adding ---------------------------------------------------------------------

    def put(self, message: Message | bytes | str) -> str:
        """Add one message; return its element name ``dir/elt``."""
        data = message if type(message) is bytes else _serialise(message)
        if self._unnamed:
            name = self._put_unnamed(data)
            if name is not None:
                return name
        directory, temporary = self._write_temporary(data, sync=self.durable)
        # Publish under the temporary's own name: fresh from our namer, so almost always free.
        elt = temporary[-len(layout.TEMPORARY_SUFFIX) - 14 : -len(layout.TEMPORARY_SUFFIX)]
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

    def put_many(self, messages: Iterable[Message | bytes | str]) -> list[str]:
        """Add several messages, paying for the flushes once per batch.

        A batch of at least :data:`~spoolq.batch.DIRECTORY_BATCH_MIN` is
        published as one new intermediate directory, all at once
        (:mod:`spoolq.batch`).  A smaller one is written as temporaries whose
        data is flushed with one ``syncfs`` (where the kernel offers it)
        before any is renamed to its element name.  Either way a crash leaves
        each element absent or whole.
        """
        datas = [_serialise(m) for m in messages]
        if len(datas) >= batch.DIRECTORY_BATCH_MIN:
            names = self._batches.publish(datas)
            if names is not None:
                # Later puts of this interval join the batch's directory, so that
                # they list after it, as they were put.
                self._directory_for(time.time())
                self._directory = names[0][:8]
                return names
        pending = [self._write_temporary(data, sync=False) for data in datas]
        if self.durable and pending:
            element.sync_filesystem_of(os.path.join(self.path, pending[0][0]), [t for _, t in pending])
        names = [self._publish(directory, temporary) for directory, temporary in pending]
        if self.durable:
            for directory in sorted({d for d, _ in pending}):
                element.sync_directory(os.path.join(self.path, directory))
        return names

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
        for _attempt in range(3):
            temporary = f"{self.path}/{directory}/{self._namer.next(now)}{layout.TEMPORARY_SUFFIX}"
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

    def _make_directory(self, directory: str) -> None:
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

        The temporary's own name (less ``.tmp``) is tried first: it is fresh
        from our namer, so it is almost always free.
        """
        base = f"{self.path}/{directory}/"
        ours = temporary.startswith(base) and temporary.endswith(layout.TEMPORARY_SUFFIX)
        elt = temporary[len(base) : -len(layout.TEMPORARY_SUFFIX)] if ours else self._namer.next()
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

    # -- listing --------------------------------------------------------------------

    def directories(self) -> list[str]:
        """The intermediate directories, oldest first."""
        try:
            entries = os.listdir(self.path)
        except FileNotFoundError:
            return []
        return sorted(d for d in entries if layout.is_directory_name(d))

    def names(self) -> Iterator[str]:
        """Element names ``dir/elt``, oldest first, locked or not.

        Lazy, one directory at a time; a directory that vanishes under a
        concurrent purge is skipped.
        """
        is_element = layout.is_element_name
        for directory in self.directories():
            try:
                entries = os.listdir(f"{self.path}/{directory}")
            except (FileNotFoundError, NotADirectoryError):
                continue
            entries = [e for e in entries if is_element(e)]
            entries.sort()
            for entry in entries:
                yield f"{directory}/{entry}"

    __iter__ = names

    def count(self) -> int:
        """Elements in the spool, locked or not (temporaries not counted)."""
        is_element = layout.is_element_name
        total = 0
        for directory in self.directories():
            try:
                total += sum(1 for e in os.listdir(f"{self.path}/{directory}") if is_element(e))
            except (FileNotFoundError, NotADirectoryError):
                continue
        return total

    def __len__(self) -> int:
        return self.count()

    def stats(self) -> SpoolStats:
        """Ready, locked and temporary elements, bytes, and the oldest element's age."""
        return housekeeping.spool_stats(self)

    # -- one element ----------------------------------------------------------------

    def path_of(self, name: str) -> str:
        if not layout.is_element_path(name):
            raise ElementNotFound(f"{self.path}: {name!r} is not an element name (8hex/14hex)")
        return f"{self.path}/{name}"

    def exists(self, name: str) -> bool:
        return os.path.exists(self.path_of(name))

    def is_locked(self, name: str) -> bool:
        return os.path.exists(self.path_of(name) + layout.LOCKED_SUFFIX)

    def lock(self, name: str) -> bool:
        """Take the element's lock; ``False`` if another holds it or it is gone."""
        return element.lock(self.path_of(name))

    def unlock(self, name: str) -> bool:
        """Release a lock; ``False`` if it was not held."""
        self.path_of(name)
        return self._dirq.unlock(name, permissive=True)

    def touch(self, name: str) -> None:
        """Refresh a lock so that a purge does not take it for stale."""
        try:
            self._dirq.touch(name)
        except OSError as exc:
            raise ElementNotFound(f"{self.path}/{name}: cannot refresh lock: {exc}") from None

    def read(self, name: str) -> bytes:
        """The bytes of an element (locked or not)."""
        return element.read(self.path_of(name))

    def get(self, name: str) -> Message:
        """The element decoded as a message; :class:`MalformedMessage` names it."""
        return envelope.decode(self.read(name), where=f"{self.path}/{name}")

    def remove(self, name: str) -> None:
        """Remove a *locked* element; refuses (and deletes nothing) if not locked."""
        path = self.path_of(name)
        lock = path + layout.LOCKED_SUFFIX
        if not os.path.exists(lock):
            raise NotLocked(f"{path}: refusing to remove an element that is not locked; lock it first")
        element.remove_locked(path)

    def claim(self, name: str) -> Claim | None:
        """Lock ``name`` and return a :class:`Claim`, or ``None`` if taken or gone."""
        path = self.path_of(name)
        return Claim(self, name, path) if element.lock(path) else None

    def claims(self) -> Iterator[Claim]:
        """Claim every element that can be claimed, oldest first (one pass)."""
        for name in self.names():
            claim = self.claim(name)
            if claim is not None:
                yield claim

    # -- housekeeping ---------------------------------------------------------------

    def purge(self, max_temp_age: float = 300, max_lock_age: float = 600) -> PurgeReport:
        """Unlock stale locks, drop stale temporaries, remove empty directories.

        An age of 0 disables that part; see :func:`spoolq.housekeeping.purge`.
        """
        return housekeeping.purge(self, max_temp_age, max_lock_age)


def _serialise(message: Message | bytes | str) -> bytes:
    if isinstance(message, Message):
        return envelope.encode(message)
    if isinstance(message, str):
        return message.encode("utf-8")
    if isinstance(message, (bytes, bytearray, memoryview)):
        return bytes(message)
    raise TypeError(f"cannot spool a {type(message).__name__}; give a Message, bytes or str")
