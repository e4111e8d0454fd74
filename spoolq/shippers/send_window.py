"""How many sends a shipper keeps awaiting their receipt: a fixed number, or sized from the link.

A pipelined sender moves at most ``window / round trip`` messages a second:
100 in flight cap a link of 50 ms at 2000 a second, whatever the broker could
take.  The right window is the link's bandwidth-delay product, which an
operator does not know and which changes with the route.  ``window = "auto"``
finds it the way a delay-based TCP congestion control does, once per round
of receipts (a window's worth of them):

* it **grows** by half when the window was full during the round (the spool
  had more to send than the window let out: receipts lag behind) and the
  receipts came back within ``QUEUE_FACTOR`` (2) x the shortest round trip seen on
  this connection plus ``QUEUE_ALLOWANCE`` (the broker keeps up: no queue builds);
* it **shrinks** by a fifth when the receipts took longer than that (the
  broker, or the sender's own work, is the bottleneck: more in flight would
  only wait in a queue);
* it falls back to ``AUTO_START`` on trouble: a receipt that never came, a
  refused message, a lost connection (a new route may be another link);
* it stays between ``AUTO_START`` (the fixed default, never worse than that)
  and ``AUTO_MAX`` sends, and never holds more than ``AUTO_MAX_BYTES`` of
  message bodies in flight: the memory bound, since each send in flight and
  each claim read ahead for it is kept in memory until its receipt.
"""

from __future__ import annotations

AUTO = "auto"
AUTO_START = 100  # sends: the fixed default's window, where "auto" starts and its floor
AUTO_MAX = 5000  # sends in flight at most
AUTO_MAX_BYTES = 64 << 20  # bytes of message bodies in flight at most
QUEUE_FACTOR = 2.0  # receipts later than this x the shortest delay (plus the allowance): a queue
QUEUE_ALLOWANCE = 0.005  # seconds of receipt delay above the round trip that is not yet a queue
GROWTH, SHRINK = 1.5, 0.8


class FixedWindow:
    """``window = N``: always ``N``."""

    def __init__(self, size: int):
        self.size = size

    def sent(self, count: int, nbytes: int, full: bool) -> None:
        """``count`` sends of ``nbytes`` in all went out; ``full``: the window was full after them."""

    def receipted(self, delay: float) -> None:
        """A receipt came ``delay`` seconds after its send."""

    def trouble(self) -> None:
        """A receipt timed out, a message was refused, or the connection was lost."""


class AutoWindow(FixedWindow):
    """``window = "auto"``: sized from the receipts' delays (see the module's docstring)."""

    def __init__(self):
        super().__init__(AUTO_START)
        self.shortest = float("inf")  # the shortest send-to-receipt delay on this connection
        self._round_left = self.size  # receipts until this round ends
        self._round_delays = 0.0
        self._round_count = 0
        self._was_full = False
        self._mean_bytes = 1024.0  # a running mean of the message sizes sent

    def sent(self, count: int, nbytes: int, full: bool) -> None:
        if count:
            self._mean_bytes += (nbytes / count - self._mean_bytes) * min(1.0, count / 64)
        self._was_full = self._was_full or full

    def receipted(self, delay: float) -> None:
        self.shortest = min(self.shortest, delay)
        self._round_delays += delay
        self._round_count += 1
        self._round_left -= 1
        if self._round_left <= 0:
            self._end_round()

    def trouble(self) -> None:
        self.size = AUTO_START
        self.shortest = float("inf")
        self._start_round()

    def _end_round(self) -> None:
        mean = self._round_delays / self._round_count
        if mean > QUEUE_FACTOR * self.shortest + QUEUE_ALLOWANCE:
            self.size = max(AUTO_START, int(self.size * SHRINK))
        elif self._was_full:
            self.size = min(self.bound(), int(self.size * GROWTH))
        self._start_round()

    def bound(self) -> int:
        """The most sends in flight: :data:`AUTO_MAX`, fewer when the messages are large."""
        by_memory = int(AUTO_MAX_BYTES // max(1.0, self._mean_bytes))
        return max(AUTO_START, min(AUTO_MAX, by_memory))

    def _start_round(self) -> None:
        self._round_left = self.size
        self._round_delays, self._round_count, self._was_full = 0.0, 0, False


def send_window(setting: int | str) -> FixedWindow:
    """The window a shipper's ``window`` setting asks for: a number, or ``"auto"``."""
    return AutoWindow() if setting == AUTO else FixedWindow(int(setting))
