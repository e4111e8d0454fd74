"""The handler of node A's component in ``benchmarks/bench_round_trip.py``: notes when each reply came.

Appends ``CORRELATION-ID MONOTONIC-SECONDS`` to the file of option ``log``, one
line a reply, written at once: the benchmark, in another process, reads it
(``time.monotonic`` is the machine's one monotonic clock, the same in every process).
"""

from __future__ import annotations

import os
import time

from spoolq.handlers.base import Context
from spoolq.message import CORRELATION_ID, Message


def arrived(message: Message, context: Context) -> None:
    """Note the reply's arrival; answer nothing."""
    now = time.monotonic()
    line = f"{message.header.get(CORRELATION_ID, '-')} {now:.6f}\n".encode()
    fd = os.open(context.options["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
