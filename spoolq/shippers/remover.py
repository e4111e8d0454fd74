"""Removing confirmed elements in a background thread.

A removal is two unlinks (element and lock); on a busy disk each costs
hundreds of microseconds, as long as sending a whole window.  The shipper
hands confirmed claims to a :class:`Remover` so that the disk work overlaps
the network work.  An element stays locked until it is removed, so it is
never claimed and sent again meanwhile; a crash before the removal leaves a
locked element whose stale lock a purge releases: one duplicate, no loss.
"""

from __future__ import annotations

import logging
import queue
import threading

from spoolq.errors import SpoolqError
from spoolq.spool import Claim

log = logging.getLogger("spoolq.shippers")


class Remover:
    """One thread that acks (removes) the claims given to :meth:`remove`, in order."""

    def __init__(self, name: str):
        self._queue: queue.SimpleQueue[Claim | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"spoolq-remover-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def remove(self, claim: Claim) -> None:
        self._queue.put(claim)

    def close(self) -> None:
        """Finish the removals queued so far, then stop the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (claim := self._queue.get()) is not None:
            try:
                claim.ack()
            except SpoolqError as exc:
                log.warning("cannot remove %s after its receipt: %s", claim.where, exc)
