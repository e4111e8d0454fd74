"""Removing acked elements in a background thread, off a hot path.

Acking an element is dirq's two unlinks: the element's name, then its lock
(``NAME.lck``, the inode's last link).  On an ext4 disk the second one, which
frees the inode, is slow: measured on the root disk here, 150-190 us of wall
time per element (40-50 us of it CPU) against 7-10 us for dropping the name.
A shipper acks every message one after another in its only thread, so it
hands acked elements to a :class:`Reaper`: the unlinks wait in the reaper's
thread (the GIL is released meanwhile) while the shipper sends on.

Until the reaper's turn comes the element stays locked, so no consumer takes
it.  One left behind by a crash is a locked element whose lock turns stale:
it is handed out again, which at-least-once delivery allows (a receiver drops
the duplicate by its id).

The reaper is woken once per batch, not once per element: :meth:`Reaper.remove`
only appends to a deque and sets an event, and the thread empties the whole
deque before it sleeps again.  A shipper acks its receipts in batches, so the
two threads meet about once a batch (a queue handing over one path at a time
woke the reaper, and passed it the GIL, for every message).
"""

from __future__ import annotations

import threading
from collections import deque

from spoolq.spool import element


class Reaper:
    """A thread that removes locked elements handed to it, in order; :meth:`close` waits for it."""

    def __init__(self, name: str = "reaper"):
        self._paths: deque[str] = deque()
        self._work = threading.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def remove(self, path: str) -> None:
        """Remove the element at ``path`` and then its lock, soon (missing files are fine)."""
        self._paths.append(path)
        if not self._work.is_set():
            self._work.set()

    def close(self) -> None:
        """Remove every element handed over so far, then stop the thread."""
        self._closing = True
        self._work.set()
        self._thread.join()

    def _run(self) -> None:
        paths = self._paths
        while True:
            self._work.wait()
            self._work.clear()  # before emptying: a path added from now on sets it again
            while paths:
                try:
                    element.remove_locked(paths.popleft())
                except OSError:
                    pass  # still locked: retried once its lock is stale, as after a crash
            if self._closing:
                return
