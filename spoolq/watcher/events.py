"""What an emitter tells the dispatcher, and the shape every emitter has."""

from __future__ import annotations

import os
import select
from dataclasses import dataclass
from typing import Literal

SpoolEventKind = Literal["element", "directory", "rescan"]


@dataclass(frozen=True)
class SpoolEvent:
    """Something may be ready to claim.

    ``element``: ``directory/name`` may be a new element (``name`` is not
    validated: the dispatcher logs odd names).  ``directory``: list one
    intermediate directory.  ``rescan``: list the whole spool (at start, after
    an inotify queue overflow, and periodically in any case).
    """

    kind: SpoolEventKind
    directory: str | None = None
    name: str | None = None


RESCAN = SpoolEvent("rescan")


class Emitter:
    """Base of emitters: blocking :meth:`wait` that :meth:`wake` interrupts.

    The wake pipe lets another thread (a worker deferring a message, or
    ``stop()``) cut a wait short without any busy loop.
    """

    def __init__(self) -> None:
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.closed = False

    def wait(self, timeout: float | None) -> list[SpoolEvent]:
        """Block until there is something to report, ``timeout`` passes, or a wake."""
        raise NotImplementedError

    def wake(self) -> None:
        try:
            os.write(self._wake_w, b"x")
        except BlockingIOError:
            pass  # a wake is already pending
        except OSError:
            pass  # closed

    def _block(self, fds: list[int], timeout: float | None) -> set[int]:
        """Wait for any of ``fds`` or the wake pipe; return the ready ones (wake drained)."""
        poller = select.poll()
        for fd in (*fds, self._wake_r):
            poller.register(fd, select.POLLIN)
        ms = None if timeout is None else max(0, int(timeout * 1000 + 0.999))
        ready = {fd for fd, _ in poller.poll(ms)}
        if self._wake_r in ready:
            try:
                while os.read(self._wake_r, 512):
                    pass
            except BlockingIOError:
                pass
        return ready

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self._wake_r)
            os.close(self._wake_w)
