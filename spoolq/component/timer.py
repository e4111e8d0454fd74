"""The tick: the message a component feeds itself so that handlers notice time passing.

The runtime calls a handler only when a message arrives, so a handler that
keeps ages or timeouts checks them on each message *and* on each ``TICK``.
:mod:`spoolq.component.ticker` puts one into the component's own spool every
``tick`` seconds.  A tick is a plain message: type ``TICK``, an empty JSON
object as body, no reply expected.  It belongs to the runtime, not to any
application, so it is built from :class:`~spoolq.message.Message` alone.
"""

from __future__ import annotations

from spoolq.message import Message

TICK = "TICK"


def tick() -> Message:
    """A fresh ``TICK`` message."""
    return Message.new(TICK, {})
