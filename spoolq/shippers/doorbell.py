"""The one thing an idle shipper's loop sleeps on: rung when there is something to do.

An idle shipper must cost nothing: no timer that wakes it to look.  So its
loop sleeps on a :class:`Doorbell`, and whoever makes work for it rings:
the claimer when it has claims ready for a sender that found none, the link
when the receipts waited for have come, when an ERROR frame arrives or when
the connection is lost, the receiver's reader thread when a frame arrives
for a loop that waits, and :meth:`~spoolq.shippers.base.Shipper.stop`.

It is a pipe, not a condition variable: a ring is one ``write``, safe from
a signal handler (which runs in the very thread that may be waiting), and
never lost: a byte written before the wait makes the wait return at once.
The protocol that makes it exact: the ringer changes the state first, then
rings; the sleeper looks at the state after its last wake, then waits.
"""

from __future__ import annotations

import os
import select


class Doorbell:
    """A wake-up that any thread, or a signal handler, may ring; one thread waits on it."""

    def __init__(self) -> None:
        self._read, self._write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._poller = select.poll()
        self._poller.register(self._read, select.POLLIN)
        self.closed = False

    def ring(self) -> None:
        if self.closed:
            return
        try:
            os.write(self._write, b"x")
        except BlockingIOError:
            pass  # rung already, and not yet answered
        except OSError:
            pass  # closed meanwhile

    def wait(self, timeout: float | None) -> bool:
        """Sleep until rung or ``timeout`` seconds passed (``None``: no limit); ``True`` when rung.

        A ring that came before the call answers it at once; every ring up to
        the return is answered by it.
        """
        ms = None if timeout is None else max(0, int(timeout * 1000 + 0.999))
        if not self._poller.poll(ms):
            return False
        try:
            while os.read(self._read, 512):
                pass
        except BlockingIOError:
            pass
        return True

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            os.close(self._read)
            os.close(self._write)

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001, S110  (interpreter shutdown: nothing to do)
            pass
