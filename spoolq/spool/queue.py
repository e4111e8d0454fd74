"""A spool: one directory queue in the python-dirq ``QueueSimple`` format.

Every path is our own, byte-compatible with dirq (its own tests check that
against python-dirq, ``tests/test_dirq_interop.py``), each for a measured or
correctness reason (figures: ``benchmarks/bench_spool.py``, ``docs/foundation.md``):

* ``put``: dirq neither fsyncs nor gives up on a create error other than a
  missing directory (it loops forever on EACCES, ENOSPC, ENOTDIR), and it is
  slower than a path of bare system calls: one ``time.time()``, one
  unnamed file (``O_TMPFILE``) written and linked in under its element name
  (``.tmp`` and ``renameat2`` where the filesystem cannot).  Measured on
  tmpfs: about 1.7 x dirq's ``add``; ``put_many`` publishes a large batch as
  one directory (:mod:`spoolq.spool.batch`).
* ``lock``, ``unlock``, ``touch`` and consuming (``Claim``): one protocol,
  in :mod:`spoolq.spool.element`; the same system calls as dirq
  (``link`` to ``.lck``, then ``utime`` so that the lock's age is the lock
  time), without its per-call string building and error wrapping; a claim
  reads its element with one ``read`` and removes it without re-checking a
  lock it holds.  Together these lifted consuming from 1.0 x to about 1.3 x
  dirq's lock/get/remove on tmpfs (measured before and after).
* listing and counting: dirq pops from the front of a list (cost per element
  grows with the queue) and fails when a concurrent purge removes a directory.
* ``remove``: dirq deletes the element before finding it was not locked.
* ``purge``: dirq's fails on the same concurrent-removal race.

The put paths live in :mod:`spoolq.spool.put` (large batches in
:mod:`spoolq.spool.batch`), the system calls on one element in
:mod:`spoolq.spool.element`, a held element in :mod:`spoolq.spool.claim`, ``stats`` and
``purge`` in :mod:`spoolq.spool.housekeeping`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from spoolq import envelope
from spoolq.errors import ElementNotFound, NotLocked, SpoolError
from spoolq.message import Message
from spoolq.spool import element, housekeeping, layout
from spoolq.spool.claim import Claim
from spoolq.spool.housekeeping import PurgeReport, SpoolStats
from spoolq.spool.put import ElementWriter


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
            _make_spool_directory(self.path, umask)
        except OSError as exc:
            raise element.write_error(self.path, exc) from None
        self._writer = ElementWriter(self.path, granularity, durable)

    @property
    def name(self) -> str:
        return os.path.basename(self.path.rstrip("/"))

    def __repr__(self) -> str:
        return f"Spool({self.path!r})"

    # -- adding ---------------------------------------------------------------------

    def put(self, message: Message | bytes | str) -> str:
        """Add one message; return its element name ``dir/elt``."""
        return self._writer.put(message if type(message) is bytes else _serialise(message))

    def put_many(self, messages: Iterable[Message | bytes | str]) -> list[str]:
        """Add several messages, paying for the flushes once per batch (see :mod:`spoolq.spool.put`).

        Either way a crash leaves each element absent or whole.
        """
        return self._writer.put_many([_serialise(m) for m in messages])

    def adopt(self, path: str | os.PathLike) -> str:
        """Move an existing file on the same filesystem into the spool, atomically."""
        return self._writer.adopt(path)

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
        for directory in self.directories():
            try:
                entries = layout.element_names(os.listdir(f"{self.path}/{directory}"))
            except (FileNotFoundError, NotADirectoryError):
                continue
            entries.sort()
            for entry in entries:
                yield f"{directory}/{entry}"

    __iter__ = names

    def count(self) -> int:
        """Elements in the spool, locked or not (temporaries not counted)."""
        total = 0
        for directory in self.directories():
            try:
                total += len(layout.element_names(os.listdir(f"{self.path}/{directory}")))
            except (FileNotFoundError, NotADirectoryError):
                continue
        return total

    def __len__(self) -> int:
        return self.count()

    def stats(self) -> SpoolStats:
        """Ready, locked and temporary elements, bytes, and the oldest element's age."""
        return housekeeping.spool_stats(self.path)

    # -- one element ----------------------------------------------------------------

    def path_of(self, name: str) -> str:
        if not layout.is_element_path(name):
            raise ElementNotFound(f"{self.path}: {name!r} is not an element name (8hex/14hex)")
        return f"{self.path}/{name}"

    def exists(self, name: str) -> bool:
        return os.path.exists(self.path_of(name))

    def is_locked(self, name: str) -> bool:
        # lexists: the lock of a parked symlink is a link too, and may dangle.
        return os.path.lexists(self.path_of(name) + layout.LOCKED_SUFFIX)

    def lock(self, name: str) -> bool:
        """Take the element's lock; ``False`` if another holds it or it is gone."""
        return element.lock(self.path_of(name))

    def unlock(self, name: str) -> bool:
        """Release a lock; ``False`` if it was not held."""
        return element.unlock(self.path_of(name))

    def touch(self, name: str) -> None:
        """Refresh a lock so that a purge does not take it for stale."""
        element.touch(self.path_of(name))

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
        # lexists, not exists: the lock of a symlink element is the link itself, hard-linked,
        # and a dangling one must still count as a lock (else the link stays locked for good).
        if not os.path.lexists(lock):
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

        An age of 0 disables that part; see :func:`spoolq.spool.housekeeping.purge`.
        """
        return housekeeping.purge(self.path, max_temp_age, max_lock_age)


def _make_spool_directory(path: str, umask: int | None) -> None:
    """Make the spool directory and its parents if missing, as dirq does (``umask``: for this)."""
    if umask is None:
        os.makedirs(path, exist_ok=True)
        return
    previous = os.umask(umask)
    try:
        os.makedirs(path, exist_ok=True)
    finally:
        os.umask(previous)


def _serialise(message: Message | bytes | str) -> bytes:
    if isinstance(message, Message):
        return envelope.encode(message)
    if isinstance(message, str):
        return message.encode("utf-8")
    if isinstance(message, (bytes, bytearray, memoryview)):
        return bytes(message)
    raise TypeError(f"cannot spool a {type(message).__name__}; give a Message, bytes or str")
