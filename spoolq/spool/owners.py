"""Who consumes a spool now: one owner file per consuming process, flocked while it lives.

A daemon that takes claims from a spool (a component's watcher, a shipper)
registers as one of its owners: it creates
``ROOT/.state/owners/<spool>/<pid>-<nanoseconds>`` and holds an exclusive
``flock`` on it for as long as it lives.  The kernel drops that lock when the
process dies, even by ``kill -9`` or a segfault, so another process that can
take the lock knows at once that the owner is dead, without waiting for a
lock timeout.  Several processes may consume one spool at once (competing
consumers are legitimate): each has its own file.

The file also says what its owner has in hand: one *slot* per thread that
handles messages (a :class:`Ledger`), holding the name of the element being
handled and the names of the others that thread has claimed.  The slots are
a shared memory map of the file: writing one is a memory copy, no system
call, yet it outlives the process (the page cache belongs to the kernel).
A machine crash may lose them; then no claim outlives the machine's
processes anyway, and the sweep below takes the locks back.

Taking over (:func:`spoolq.spool.takeover.take_over` reads these):

* a dead owner's slots name exactly its claims, which are unlocked (and the
  element in hand counted as a death, :mod:`spoolq.spool.poison`);
* locks the slots do not name (a shipper's sends in flight, a claim taken
  in the microseconds before its slot was written) are taken back by a
  sweep of every lock older than the successor's own start, but only when
  a dead owner was found and no other live owner remains: a live owner's
  claim is never taken.  Programs that consume the spool without
  registering (python-dirq consumers, ``spoolq`` commands) are protected
  by the lock timeout only, as before; do not run them beside a daemon
  that may be killed.

Nothing here changes the spool itself: the ``.lck`` links stay python-dirq's.
"""

from __future__ import annotations

import fcntl
import logging
import mmap
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass

log = logging.getLogger("spoolq.owners")
STATE_DIR = ".state"
OWNERS_DIR = "owners"
NAME_SIZE = 24  # "8hex/14hex" is 23 bytes; one byte of padding (a NUL) ends a short name
CLAIMS_PER_SLOT = 96  # names a worker may hold claimed at once: a batch (64) and a claiming group (32)
SLOT_SIZE = NAME_SIZE * (1 + CLAIMS_PER_SLOT)  # the element in hand, then the claimed ones
_EMPTY_NAME = bytes(NAME_SIZE)
ABANDONED_AFTER = 60.0  # seconds after which an owner file still being made was abandoned


def owners_path(root_path: str, spool_name: str) -> str:
    return os.path.join(root_path, STATE_DIR, OWNERS_DIR, spool_name)


def register_owner(root_path: str, spool_name: str, slots: int, who: str) -> Ownership | None:
    """An :class:`Ownership`, or ``None`` (logged) when ``ROOT/.state`` cannot be written.

    The daemon then runs as before owner files: its claims, if it is killed,
    wait for the lock timeout.  Serving matters more than a quick take-over.
    """
    try:
        return Ownership(root_path, spool_name, slots)
    except OSError as exc:
        log.warning(
            "%s: cannot register as an owner of spool %s (%s); if this process is killed, its claims "
            "wait for the lock timeout",
            who, spool_name, exc,
        )  # fmt: skip
        return None


class Ledger:
    """One handling thread's slot: what it has claimed and which element it is handling.

    Written without locks: only its own thread writes a slot.
    """

    __slots__ = ("_map", "_start", "_held")

    def __init__(self, memory: mmap.mmap | None, start: int):
        self._map = memory
        self._start = start
        self._held = 0  # names noted as claimed since the last release

    def claimed(self, names: list[str]) -> None:
        """This thread has claimed ``names`` too (past ``CLAIMS_PER_SLOT`` held, they are not noted)."""
        if self._map is None:
            return
        room = CLAIMS_PER_SLOT - self._held
        if room <= 0:
            return  # then only the sweep or the lock timeout frees the rest (see the module docstring)
        data = b"".join([n.encode().ljust(NAME_SIZE, b"\0") for n in names[:room]])
        start = self._start + NAME_SIZE * (1 + self._held)
        self._map[start : start + len(data)] = data
        self._held += min(room, len(names))

    def handling(self, name: str) -> None:
        """``name`` is being handled now: if the process dies before :meth:`handled`, it is to blame."""
        if self._map is not None:
            self._map[self._start : self._start + NAME_SIZE] = name.encode().ljust(NAME_SIZE, b"\0")

    def handled(self) -> None:
        if self._map is not None:
            self._map[self._start : self._start + NAME_SIZE] = _EMPTY_NAME

    def released(self) -> None:
        """Nothing claimed, nothing in hand."""
        if self._map is not None and self._held:
            self._map[self._start : self._start + NAME_SIZE * (1 + self._held)] = bytes(
                NAME_SIZE * (1 + self._held)
            )
            self._held = 0


#: A ledger that notes nothing (code that runs without an owner file).
NO_LEDGER = Ledger(None, 0)


@dataclass(frozen=True)
class DeadOwner:
    """What a dead owner's file said: the elements it was handling, and the others it held."""

    path: str
    in_hand: tuple[str, ...]
    claimed: tuple[str, ...]


class Ownership:
    """This process's registration as an owner of one spool (see the module docstring)."""

    def __init__(self, root_path: str, spool_name: str, slots: int = 0):
        self.directory = owners_path(root_path, spool_name)
        os.makedirs(self.directory, exist_ok=True)
        self.started = time.time()
        self.path = os.path.join(self.directory, f"{os.getpid()}-{time.time_ns()}")
        # Made under a name others skip, and given its own name only once locked: a scan
        # must never find it unlocked and take a starting owner for a dead one.
        making = self.path + ".tmp"
        fd = os.open(making, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.ftruncate(fd, max(1, slots) * SLOT_SIZE)
            self._map = mmap.mmap(fd, max(1, slots) * SLOT_SIZE) if slots else None
            os.rename(making, self.path)
        except BaseException:
            os.close(fd)
            os.unlink(making)
            raise
        self._fd = fd
        self._slots = slots
        self._given = 0

    def ledger(self) -> Ledger:
        """The next unused slot, for one handling thread."""
        if self._given >= self._slots:
            raise ValueError(f"{self.path}: all {self._slots} slots are given out")
        self._given += 1
        return Ledger(self._map, (self._given - 1) * SLOT_SIZE)

    def others(self) -> Iterator[tuple[str, DeadOwner | None]]:
        """Every other owner file: ``(path, None)`` for a live owner, else what the dead one held.

        A dead owner's file is locked by us while the caller looks at it, and
        removed when the caller asks for the next: two successors never both
        take over the same owner.
        """
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return
        own = os.path.basename(self.path)
        for name in names:
            path = os.path.join(self.directory, name)
            if name.endswith(".tmp"):
                _remove_if_abandoned(path)
                continue
            if name == own:
                continue
            try:
                fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            except FileNotFoundError:
                continue  # buried by another successor meanwhile
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    yield path, None
                    continue
                if os.fstat(fd).st_nlink == 0:
                    continue  # another successor took it over and removed it before we locked it
                yield path, _read_dead(path, fd)
                os.unlink(path)
            finally:
                os.close(fd)

    def forgive(self) -> None:
        """Blame no element in hand: this process is being stopped on purpose, not killed by one.

        Its claims stay noted, so that a successor unlocks them at once.
        """
        if self._map is not None:
            for slot in range(self._slots):
                self._map[slot * SLOT_SIZE : slot * SLOT_SIZE + NAME_SIZE] = _EMPTY_NAME

    def close(self) -> None:
        """Deregister; the file stays when a slot still names a claim, for a successor to take over."""
        if self._fd < 0:
            return
        holding = self._map is not None and any(self._map[: self._slots * SLOT_SIZE])
        if self._map is not None:
            self._map.close()
        if not holding:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
        os.close(self._fd)
        self._fd = -1


def _remove_if_abandoned(path: str) -> None:
    """Remove an owner file its maker died before naming (it is named within microseconds)."""
    try:
        if time.time() - os.stat(path).st_mtime > ABANDONED_AFTER:
            os.unlink(path)
    except FileNotFoundError:
        pass


def _read_dead(path: str, fd: int) -> DeadOwner:
    data = os.pread(fd, 1 << 20, 0)
    in_hand: list[str] = []
    claimed: list[str] = []
    for slot in range(len(data) // SLOT_SIZE):
        base = slot * SLOT_SIZE
        for index in range(1 + CLAIMS_PER_SLOT):
            raw = data[base + index * NAME_SIZE : base + (index + 1) * NAME_SIZE].rstrip(b"\0")
            if raw:
                (in_hand if index == 0 else claimed).append(raw.decode("ascii", "replace"))
    return DeadOwner(path, tuple(in_hand), tuple(claimed))
