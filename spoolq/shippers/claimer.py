"""Claiming and reading the next elements of a spool in a thread of its own, ahead of the sender.

Each element a shipper sends costs a ``link`` and a ``utime`` (the lock) and
an ``open``/``read``/``close``.  On the ext4 root disk here those took over a
third of the sending thread's time (``benchmarks/bench_ship.py`` under
py-spy).  A :class:`Claimer` does them in its own thread (the GIL is
released while a system call waits) and keeps up to ``depth`` claims ready,
so the sending thread only frames and sends.

A shipper runs one claimer per connection: :meth:`Claimer.close` releases the
claims still waiting, so nothing stays locked while the broker is away.
"""

from __future__ import annotations

import queue
import threading

from spoolq.claim import Claim
from spoolq.errors import SpoolqError
from spoolq.spool import Spool

#: How long the claimer sleeps when the spool has nothing it can claim.
IDLE_PAUSE = 0.05


class Claimer:
    """Keeps up to ``depth`` claims of ``spool`` ready, oldest first, read into memory."""

    def __init__(self, spool: Spool, depth: int, name: str = "claimer"):
        self.spool = spool
        self._ready: queue.Queue[Claim] = queue.Queue(maxsize=depth)
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def take(self, limit: int) -> list[Claim]:
        """Up to ``limit`` ready claims, without waiting."""
        taken = []
        try:
            while len(taken) < limit:
                taken.append(self._ready.get_nowait())
        except queue.Empty:
            pass
        return taken

    def close(self) -> None:
        """Stop claiming and release every claim not taken."""
        self._closing.set()
        self._thread.join()
        for claim in self.take(self._ready.maxsize):
            try:
                claim.release()
            except SpoolqError:
                pass

    def _run(self) -> None:
        while not self._closing.is_set():
            claimed = 0
            for name in self.spool.names():  # one pass, oldest first
                if self._closing.is_set():
                    return
                claim = self.spool.claim(name)
                if claim is None:
                    continue  # taken by another consumer, or gone
                try:
                    claim.read()  # kept in the claim; a failure is the sender's to report
                except SpoolqError:
                    pass
                self._hand_over(claim)
                claimed += 1
            if not claimed:
                self._closing.wait(IDLE_PAUSE)

    def _hand_over(self, claim: Claim) -> None:
        while not self._closing.is_set():
            try:
                self._ready.put(claim, timeout=0.1)
                return
            except queue.Full:
                continue
        claim.release()
