"""stomp.py's own log, without the tracebacks of failures spoolq handles itself.

stomp.py logs every failed socket write as ``error sending frame`` with the
whole traceback (a ``BrokenPipeError`` or ``ConnectionResetError`` when a
broker stops), then raises.  Every frame spoolq sends goes through
:class:`spoolq.shippers.link.Link`, which catches that error, marks the link
lost and lets the shipper say, in one line, that it reconnects; stomp.py's
heartbeat thread catches its own.  So the record is dropped: an operator
would read a traceback for something that went as planned.

A failed connect is logged by stomp.py as ``could not connect to host H,
port P: REASON`` and then raised as a bare ``ConnectFailedException``, without
the reason.  That record is dropped too, its reason kept for the thread that
connected (:func:`connect_failure`), so that the shipper's own line says
``H:P: [Errno 111] Connection refused`` once, instead of two lines of which
its own names only the exception class.

:func:`quiet_handled_failures` installs the filter once, on the
``stomp.py`` logger itself, so that it holds whatever handlers the daemon's
log configuration adds later.
"""

from __future__ import annotations

import logging
import threading

STOMP_LOGGER = "stomp.py"
HANDLED = frozenset({"error sending frame"})  # stomp.py's words for failures it raises to its caller
CONNECT_FAILED = "could not connect to host %s, port %s: %s"  # stomp.py's record of a failed connect

_last_connect_failure = threading.local()  # stomp.py connects in the caller's thread


class HandledFailures(logging.Filter):
    """Drops stomp.py's records of failures that it raises, and spoolq reports, anyway."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == CONNECT_FAILED and isinstance(record.args, tuple) and len(record.args) == 3:
            _last_connect_failure.reason = str(record.args[2])
            return False
        return record.msg not in HANDLED


def forget_connect_failure() -> None:
    """Before a connect: no reason of an earlier one is mistaken for this one's."""
    _last_connect_failure.reason = None


def connect_failure() -> str | None:
    """Why the last connect of this thread failed, as stomp.py logged it (``None``: not logged)."""
    return getattr(_last_connect_failure, "reason", None)


def quiet_handled_failures() -> None:
    """Install the filter on stomp.py's logger (idempotent)."""
    logger = logging.getLogger(STOMP_LOGGER)
    if not any(isinstance(f, HandledFailures) for f in logger.filters):
        logger.addFilter(HandledFailures())
