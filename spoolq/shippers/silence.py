"""How long a broker has left a shipper's sends without a receipt: the ``waiting`` state.

A broker that takes SEND frames and answers none of them is not an outage the
connection shows: a RabbitMQ quorum queue whose cluster lost its majority
accepts the frames and says nothing, neither RECEIPT nor ERROR, until a
majority is back (then the receipts come).  The shipper keeps every such
message in its spool (nothing is counted as sent without its receipt), and
after :data:`WAITING_AFTER` seconds of silence ``spoolq stats`` shows it as
``waiting``, the reason ``no receipt for N s from HOST``, so that an operator
sees why the outgoing spool grows.
"""

from __future__ import annotations

WAITING_AFTER = 5.0  # seconds without a receipt, sends in flight, before the status says "waiting"


class ReceiptSilence:
    """Since when sends have been in flight with no receipt coming back (monotonic seconds)."""

    def __init__(self, after: float = WAITING_AFTER):
        self.after = after
        self.since: float | None = None  # None: nothing awaits a receipt, or one just came

    def sent(self, now: float) -> None:
        """Sends went out: the silence starts now unless it already runs."""
        if self.since is None:
            self.since = now

    def answered(self, now: float, still_in_flight: bool) -> None:
        """Receipts came: the silence, if sends are still out, starts again now."""
        self.since = now if still_in_flight else None

    def reset(self) -> None:
        """A new connection, or none: its silence is its own."""
        self.since = None

    def seconds(self, now: float) -> float:
        return 0.0 if self.since is None else now - self.since

    def waiting(self, now: float) -> bool:
        return self.since is not None and now - self.since >= self.after

    def due_in(self, now: float) -> float | None:
        """Seconds until the status must change: the silence becomes waiting, or its count a second older."""
        if self.since is None:
            return None
        left = self.since + self.after - now
        return left if left > 0 else 1.0
