"""Where a daemon's main thread sleeps: signals and other threads' pokes, through one pipe.

Python runs a signal handler only when the main thread next executes
bytecode.  A main thread blocked without a timeout in a lock
(``threading.Event.wait()``) can miss a signal that lands just before it
blocks, and a handler that takes a lock itself (``Event.set()``) can
deadlock against the main thread that holds it.  The C-level handler,
though, always writes the signal's number to the descriptor given to
``signal.set_wakeup_fd``, whichever thread the kernel delivered it to.  So
the main thread sleeps in ``select`` on that pipe and takes the signals from
the numbers it reads.  The Python handlers do nothing; they are installed
only to replace the default actions (termination, ``KeyboardInterrupt``).

Other threads wake the loop with :meth:`WakeupPipe.poke` (a zero byte: no
signal has number 0).  A loop built this way wakes only when something
happened, so an idle daemon is never scheduled, and misses nothing.
"""

from __future__ import annotations

import os
import select
import signal
import threading
from collections.abc import Iterable

POKE = 0


def _ignore(signum, frame) -> None:
    """The Python-level handler: the number in the pipe is what counts."""


class WakeupPipe:
    """The pipe, open while used as a context manager, with ``signals`` taken over meanwhile.

    Outside the ``with`` block there is no pipe and :meth:`poke` does
    nothing, so a thread may hold ``poke`` before and after.
    """

    def __init__(self, signals: Iterable[int]):
        self.signals = tuple(signals)
        self._read = self._write = -1
        self._open = False
        self._open_lock = threading.Lock()  # a poke never writes to a descriptor closed (and reused)
        self._previous_handlers: dict[int, object] = {}
        self._previous_fd = -1

    def __enter__(self) -> WakeupPipe:
        """Open the pipe, install the handlers and the wake-up descriptor (main thread only)."""
        with self._open_lock:
            self._read, self._write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            self._open = True
        for signum in self.signals:
            self._previous_handlers[signum] = signal.signal(signum, _ignore)
        self._previous_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        return self

    def __exit__(self, *exc_info) -> None:
        signal.set_wakeup_fd(self._previous_fd)
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        with self._open_lock:
            self._open = False
            os.close(self._read)
            os.close(self._write)

    def poke(self) -> None:
        """Wake the loop (from any thread); nothing outside the ``with`` block."""
        with self._open_lock:
            if not self._open:
                return
            try:
                os.write(self._write, bytes([POKE]))
            except BlockingIOError:
                pass  # the pipe is full of wake-ups already

    def wait(self, timeout: float | None = None, fds: Iterable[int] = ()) -> tuple[list[int], list[int]]:
        """Sleep until a signal, a poke, one of ``fds`` is readable, or ``timeout`` seconds.

        Returns the numbers of the signals received (in order; none for a
        poke) and the descriptors of ``fds`` that are readable.
        """
        ready, _, _ = select.select([self._read, *fds], [], [], timeout)
        received: list[int] = []
        if self._read in ready:
            while True:
                try:
                    data = os.read(self._read, 512)
                except BlockingIOError:
                    break
                received.extend(number for number in data if number != POKE)
                if len(data) < 512:
                    break
        return received, [fd for fd in ready if fd != self._read]
