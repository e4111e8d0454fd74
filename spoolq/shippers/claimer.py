"""Claiming and reading the next elements of a spool in a thread of its own, ahead of the sender.

Each element a shipper sends costs a ``link`` and a ``utime`` (the lock) and
an ``open``/``read``/``close``.  On the ext4 root disk here those took over a
third of the sending thread's time (``benchmarks/bench_ship.py`` under
py-spy).  A :class:`Claimer` does them in its own thread (the GIL is
released while a system call waits) and keeps up to ``depth`` claims ready,
so the sending thread only frames and sends.

The claimer opens and locks each element relative to a kept descriptor of
its directory (:mod:`spoolq.spool.directories`) and sets the lock's time through
the open file, as a component's worker does; the claims it hands over are
acked by path, so its descriptors serve no one else.

The two threads meet as seldom as possible: the sender takes claims off a
deque without a lock, and the claimer, once ``depth`` claims are ready,
sleeps until the sender has taken half of them and then claims in a burst.
Handing claims over one by one through a ``queue.Queue`` woke the claimer
for every message taken: three futex calls a message, and the GIL passed
back and forth between the threads as often.

When a pass over the spool claims nothing, the claimer sleeps on the
spool's inotify watches (:func:`spoolq.watcher.make_emitter`, the
component's own emitter), not on a timer: an idle shipper is never
scheduled, and a message put into its spool is claimed as soon as inotify
says so.  An element can also become claimable with no new file at all,
when a lock is released (a send that got no receipt, a refused one, a stale
lock taken back): whoever releases it calls :meth:`Claimer.poke`.  The
emitter's own rescan (every ``RESCAN_INTERVAL``) catches anything else, such
as a lock released by another process.  A sender that found nothing ready
is told when claims are (``on_ready``), so it too sleeps until then.

A shipper runs one claimer per connection: :meth:`Claimer.close` releases the
claims still waiting, so nothing stays locked while the broker is away.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections import deque
from collections.abc import Callable

from spoolq.errors import SpoolqError
from spoolq.spool import Claim, Spool, taking
from spoolq.spool.directories import DirectoryHandles
from spoolq.watcher import make_emitter

log = logging.getLogger("spoolq.shippers")

#: Seconds between full rescans while idle: the safety net under inotify (the watcher's default).
RESCAN_INTERVAL = 30.0
#: Seconds between looks where inotify cannot be had (the polling emitter's interval).
POLL_INTERVAL = 0.05
#: Names whose failure to be claimed is remembered, so each is logged once, not every pass.
_WARNED_KEPT = 1000


class Claimer:
    """Keeps up to ``depth`` claims of ``spool`` ready, oldest first, read into memory."""

    def __init__(
        self, spool: Spool, depth: int, name: str = "claimer", on_ready: Callable[[], object] | None = None
    ):
        self.spool = spool
        self.on_ready = on_ready  # called when claims are ready for a sender that found none
        # Watches before the first pass: an element published in between is both listed and announced.
        self._emitter = make_emitter(spool.path, poll_interval=POLL_INTERVAL, rescan_interval=RESCAN_INTERVAL)
        self._hungry = False  # take() found nothing: on_ready is owed at the next claim
        self.depth = max(1, depth)
        self._refill_at = self.depth // 2  # the claimer wakes when no more than this are ready
        self._ready: deque[Claim] = deque()
        self._room = threading.Condition()
        self._closing = False
        self._waiting = False  # the claimer sleeps in _wait_for_room
        self._warned: set[str] = set()  # names whose claim failed unexpectedly, logged once
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def take(self, limit: int, wake_me: bool = True) -> list[Claim]:
        """Up to ``limit`` ready claims, oldest first, without waiting.

        When there are none and ``wake_me``, ``on_ready`` is called at the next
        claim.  A sender with sends in flight passes ``False``: it wakes for
        their receipts anyway, and woken for each new claim it would send them
        one by one.
        """
        ready = self._ready
        taken = [ready.popleft() for _ in range(min(limit, len(ready)))]
        if not taken and limit > 0 and wake_me:
            # RACE: the claimer appends, then reads _hungry; set before the deque is looked
            # at again here, so either it sees the flag and calls on_ready, or this sees its claim.
            self._hungry = True
            taken = [ready.popleft() for _ in range(min(limit, len(ready)))]
        if taken and self._waiting and len(ready) <= self._refill_at:
            with self._room:
                self._room.notify()
        return taken

    def resize(self, depth: int) -> None:
        """Keep up to ``depth`` claims ready from now on (a sender's window that sizes itself)."""
        with self._room:
            self.depth = max(1, depth)
            self._refill_at = self.depth // 2
            self._room.notify()

    def poke(self) -> None:
        """A lock was released: look at the spool again now, not at the next rescan."""
        self._emitter.wake()

    def close(self) -> None:
        """Stop claiming and release every claim not taken."""
        with self._room:
            self._closing = True
            self._room.notify()
        self._emitter.wake()
        self._thread.join()
        self._emitter.close()
        while self._ready:
            try:
                self._ready.popleft().release()
            except SpoolqError:
                pass

    def _run(self) -> None:
        with DirectoryHandles(self.spool.path) as handles:
            while not self._closing:
                claimed = 0
                for name in self.spool.names():  # one pass, oldest first
                    if len(self._ready) >= self.depth and not self._wait_for_room():
                        return
                    claim = self._claim_one(handles, name)
                    if claim is None:
                        continue  # taken by another consumer, or gone
                    self._ready.append(claim)
                    claimed += 1
                    if self._hungry:
                        self._hungry = False
                        if self.on_ready is not None:
                            self.on_ready()
                handles.trim()
                if not claimed and not self._closing:
                    self._emitter.wait(None)  # inotify, a poke, close(), or the periodic rescan

    def _claim_one(self, handles: DirectoryHandles, name: str) -> Claim | None:
        """:meth:`_claim`, with one element's unexpected failure kept to that element.

        Without this boundary, an exception of a kind nobody foresaw would end
        the claimer's thread, and the shipper would send nothing more while
        looking alive.  The element is left where it is, for the next pass.
        """
        try:
            return self._claim(handles, name)
        except Exception:  # noqa: BLE001  (the per-element boundary of this thread)
            if name not in self._warned and len(self._warned) < _WARNED_KEPT:
                self._warned.add(name)
                log.exception("claimer of %s: cannot claim %s; left for a later pass", self.spool.path, name)
            return None

    def _claim(self, handles: DirectoryHandles, name: str) -> Claim | None:
        """Lock ``name`` and read it into the claim (:mod:`spoolq.spool.taking`); ``None`` when not ours."""
        try:
            taken = taking.take_open(
                handles, name, sys.maxsize
            )  # too large for the broker: the sender parks it
        except OSError:
            return None  # unreadable (EIO, EISDIR): left for the path's way to report, next pass
        if taken.outcome == taking.LOCKED:
            return Claim(self.spool, name, f"{self.spool.path}/{name}", taken.data)  # a listed name
        if taken.outcome == taking.LOOK:  # a symlink, a FIFO, no permission: the path's way
            return self._claim_by_path(name)
        return None  # gone, taken, no element (a FIFO, a device), or a lock the filesystem refused

    def _claim_by_path(self, name: str) -> Claim | None:
        claim = self.spool.claim(name)
        if claim is not None:
            try:
                claim.read()  # kept in the claim; a failure is the sender's to report
            except SpoolqError:
                pass
        return claim

    def _wait_for_room(self) -> bool:
        """Sleep until the sender has taken half the ready claims; ``False`` when closing."""
        with self._room:
            # RACE: take() pops, then reads _waiting; set before the length is checked
            # here, so a take() that finds it unset popped before the check saw its length.
            self._waiting = True
            while len(self._ready) > self._refill_at and not self._closing:
                self._room.wait()
            self._waiting = False
            return not self._closing
