"""A spool: one directory queue in the python-dirq ``QueueSimple`` format.

``dirq`` owns the format and does ``unlock`` and ``touch``.  The other paths
are our own, byte-compatible with dirq, each for a measured or correctness
reason (figures: ``benchmarks/bench_spool.py``, ``docs/foundation.md``):

* ``put``: dirq neither fsyncs nor gives up on a create error other than a
  missing directory (it loops forever on EACCES, ENOSPC, ENOTDIR), and it is
  slower than a path of bare system calls: one ``time.time()``, one name for
  the temporary and the element, one ``write``, one ``renameat2``.
* ``lock`` and consuming (``Claim``): the same two system calls as dirq
  (``link`` to ``.lck``, then ``utime`` so that the lock's age is the lock
  time), without its per-call string building and error wrapping; a claim
  reads its element with one ``read`` and removes it without re-checking a
  lock it holds.  dirq's consume path was not 1.2 x faster-able otherwise.
* listing and counting: dirq pops from the front of a list (cost per element
  grows with the queue) and fails when a concurrent purge removes a directory.
* ``remove``: dirq deletes the element before finding it was not locked.
* ``purge``: dirq's fails on the same concurrent-removal race.
"""

from __future__ import annotations

import errno
import os
import random
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from dirq.QueueSimple import QueueSimple

from spoolq import envelope, layout
from spoolq.errors import ElementNotFound, NotLocked, SpoolError, SpoolWriteError
from spoolq.message import Message

_WRITE_ERRORS = {
    errno.EACCES: "permission denied; check the owner and mode of the spool directory",
    errno.EPERM: "operation not permitted; check the owner and mode of the spool directory",
    errno.ENOSPC: "no space left on device; free space or move the spool",
    errno.EDQUOT: "disk quota exceeded; free space or raise the quota",
    errno.ENOTDIR: "a path component is not a directory; the spool layout is damaged",
    errno.EROFS: "the filesystem is read-only",
    errno.EIO: "input/output error from the disk",
}

_O_WRITE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_O_READ = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)


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
            raise _write_error(self.path, exc) from None
        self._namer = layout.ElementNamer(random.randrange(16))
        self._directory = ""  # the current intermediate directory, recomputed when its time is up
        self._directory_end = 0.0

    @property
    def name(self) -> str:
        return os.path.basename(self.path.rstrip("/"))

    def __repr__(self) -> str:
        return f"Spool({self.path!r})"

    # -- adding ---------------------------------------------------------------------

    def put(self, message: Message | bytes | str) -> str:
        """Add one message; return its element name ``dir/elt``."""
        data = message if type(message) is bytes else _serialise(message)
        directory, temporary = self._write_temporary(data, sync=self.durable)
        name = self._publish(directory, temporary)
        if self.durable:
            self._sync_directory(f"{self.path}/{directory}")
        return name

    def put_many(self, messages: Iterable[Message | bytes | str]) -> list[str]:
        """Add several messages, paying for the directory fsync once per batch.

        The data of all temporaries is flushed with one ``syncfs`` (where the
        kernel offers it) before any is published, so a crash leaves each
        element either absent or whole.
        """
        pending = [self._write_temporary(_serialise(m), sync=False) for m in messages]
        if self.durable and pending:
            _sync_filesystem_of(os.path.join(self.path, pending[0][0]), [t for _, t in pending])
        names = [self._publish(directory, temporary) for directory, temporary in pending]
        if self.durable:
            for directory in sorted({d for d, _ in pending}):
                self._sync_directory(os.path.join(self.path, directory))
        return names

    def adopt(self, path: str | os.PathLike) -> str:
        """Move an existing file on the same filesystem into the spool, atomically."""
        directory = layout.directory_name(time.time(), self.granularity)
        self._make_directory(directory)
        try:
            name = self._publish(directory, os.fspath(path))
        except OSError as exc:
            raise _write_error(os.fspath(path), exc) from None
        if self.durable:
            self._sync_directory(os.path.join(self.path, directory))
        return name

    def _write_temporary(self, data: bytes, sync: bool) -> tuple[str, str]:
        now = time.time()
        if now >= self._directory_end:
            directory = self._directory = layout.directory_name(now, self.granularity)
            self._directory_end = int(directory, 16) + max(self.granularity, 1)
        directory = self._directory
        for _attempt in range(3):
            temporary = f"{self.path}/{directory}/{self._namer.next(now)}{layout.TEMPORARY_SUFFIX}"
            try:
                fd = os.open(temporary, _O_WRITE, 0o666)
            except FileNotFoundError:
                # A new intermediate directory (or a purge removed it): make it, retry.
                self._make_directory(directory)
                continue
            except FileExistsError:
                continue
            except OSError as exc:
                raise _write_error(temporary, exc) from None
            try:
                written = os.write(fd, data)
                if written < len(data):
                    view = memoryview(data)[written:]
                    while view:
                        view = view[os.write(fd, view) :]
                if sync:
                    os.fsync(fd)
            except OSError as exc:
                os.close(fd)
                _unlink_quietly(temporary)
                raise _write_error(temporary, exc) from None
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
            raise _write_error(full, exc) from None
        if self.durable:
            self._sync_directory(self.path)

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
                    _unlink_quietly(temporary)
                raise _write_error(base + elt, exc) from None

    def _sync_directory(self, path: str) -> None:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

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
        ready = locked = temporary = size = 0
        oldest: float | None = None
        for directory in self.directories():
            try:
                entries = list(os.scandir(f"{self.path}/{directory}"))
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
        age = None if oldest is None else max(0.0, time.time() - oldest)
        return SpoolStats(ready, locked, temporary, size, age)

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
        return _lock(self.path_of(name))

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
        return _read(self.path_of(name))

    def get(self, name: str) -> Message:
        """The element decoded as a message; :class:`MalformedMessage` names it."""
        return envelope.decode(self.read(name), where=f"{self.path}/{name}")

    def remove(self, name: str) -> None:
        """Remove a *locked* element; refuses (and deletes nothing) if not locked."""
        path = self.path_of(name)
        lock = path + layout.LOCKED_SUFFIX
        if not os.path.exists(lock):
            raise NotLocked(f"{path}: refusing to remove an element that is not locked; lock it first")
        _remove_locked(path)

    def claim(self, name: str) -> Claim | None:
        """Lock ``name`` and return a :class:`Claim`, or ``None`` if taken or gone."""
        path = self.path_of(name)
        return Claim(self, name, path) if _lock(path) else None

    def claims(self) -> Iterator[Claim]:
        """Claim every element that can be claimed, oldest first (one pass)."""
        for name in self.names():
            claim = self.claim(name)
            if claim is not None:
                yield claim

    # -- housekeeping ---------------------------------------------------------------

    def purge(self, max_temp_age: float = 300, max_lock_age: float = 600) -> PurgeReport:
        """Unlock stale locks, drop stale temporaries, remove empty directories.

        An age of 0 disables that part.  The newest directory is kept even when
        empty, because a writer may be about to use it.
        """
        now = time.time()
        unlocked = temporaries = removed = 0
        directories = self.directories()
        for directory in directories:
            base = f"{self.path}/{directory}"
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
                    if now - os.stat(f"{base}/{entry}").st_mtime < limit:
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
                os.rmdir(f"{self.path}/{directory}")
                removed += 1
            except OSError:
                continue  # not empty, or already gone
        return PurgeReport(unlocked, temporaries, removed)


class Claim:
    """A locked element, held by us until :meth:`ack` or :meth:`release`."""

    __slots__ = ("spool", "name", "path", "_data")

    def __init__(self, spool: Spool, name: str, path: str | None = None):
        self.spool = spool
        self.name = name
        self.path = path or spool.path_of(name)
        self._data: bytes | None = None

    def __repr__(self) -> str:
        return f"Claim({self.spool.path!r}, {self.name!r})"

    @property
    def where(self) -> str:
        return self.path

    def read(self) -> bytes:
        if self._data is None:
            self._data = _read(self.path)
        return self._data

    def message(self) -> Message:
        return envelope.decode(self.read(), where=self.where)

    def touch(self) -> None:
        self.spool.touch(self.name)

    def ack(self) -> None:
        """Done with it: remove the element (we hold its lock, so no re-check)."""
        _remove_locked(self.path)

    def release(self) -> None:
        """Not done: unlock so that it is handed out again."""
        self.spool.unlock(self.name)


def _lock(path: str) -> bool:
    """dirq's lock, byte for byte: hard link ``.lck``, then utime so its age is now."""
    lock = path + layout.LOCKED_SUFFIX
    try:
        os.link(path, lock)
    except (FileExistsError, FileNotFoundError):
        return False
    try:
        os.utime(path)
    except FileNotFoundError:
        # RACE: another consumer locked and removed the element while we linked.
        _unlink_quietly(lock)
        return False
    return True


def _remove_locked(path: str) -> None:
    """Remove an element and then its lock (in dirq's order: never unlocked while present)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    _unlink_quietly(path + layout.LOCKED_SUFFIX)


_READ_SIZE = 1 << 16


def _read(path: str) -> bytes:
    try:
        fd = os.open(path, _O_READ)
    except FileNotFoundError:
        raise ElementNotFound(f"{path}: no such element") from None
    try:
        data = os.read(fd, _READ_SIZE)
        if len(data) < _READ_SIZE:
            return data  # a short read of a regular file is its end: one system call saved
        chunks = [data]
        while chunk := os.read(fd, _READ_SIZE):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _serialise(message: Message | bytes | str) -> bytes:
    if isinstance(message, Message):
        return envelope.encode(message)
    if isinstance(message, str):
        return message.encode("utf-8")
    if isinstance(message, (bytes, bytearray, memoryview)):
        return bytes(message)
    raise TypeError(f"cannot spool a {type(message).__name__}; give a Message, bytes or str")


def _write_error(path: str, exc: OSError) -> SpoolWriteError:
    hint = _WRITE_ERRORS.get(exc.errno or 0, exc.strerror or str(exc))
    return SpoolWriteError(f"{path}: cannot write: {hint} [{errno.errorcode.get(exc.errno or 0, exc.errno)}]")


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


_syncfs = getattr(layout._libc, "syncfs", None)


def _sync_filesystem_of(path: str, files: list[str]) -> None:
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
