"""stomp.py's own log, without the tracebacks of failures spoolq handles itself.

stomp.py logs every failed socket write as ``error sending frame`` with the
whole traceback (a ``BrokenPipeError`` or ``ConnectionResetError`` when a
broker stops), then raises.  Every frame spoolq sends goes through
:class:`spoolq.shippers.link.Link`, which catches that error, marks the link
lost and lets the shipper say, in one line, that it reconnects; stomp.py's
heartbeat thread catches its own.  So the record is dropped: an operator
would read a traceback for something that went as planned.

:func:`quiet_handled_send_failures` installs the filter once, on the
``stomp.py`` logger itself, so that it holds whatever handlers the daemon's
log configuration adds later.
"""

from __future__ import annotations

import logging

STOMP_LOGGER = "stomp.py"
HANDLED = frozenset({"error sending frame"})  # stomp.py's words for failures it raises to its caller


class HandledSendFailures(logging.Filter):
    """Drops stomp.py's records of send failures that it raises, and spoolq handles, anyway."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.msg not in HANDLED


def quiet_handled_send_failures() -> None:
    """Install the filter on stomp.py's logger (idempotent)."""
    logger = logging.getLogger(STOMP_LOGGER)
    if not any(isinstance(f, HandledSendFailures) for f in logger.filters):
        logger.addFilter(HandledSendFailures())
