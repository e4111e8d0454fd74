"""The handler ``benchmarks/chaos.py`` runs: echo, after a short pause that stands for work.

Echo answers in microseconds, so a kill -9 would rarely find a message in a
handler's hands.  A few milliseconds of work per message (option ``delay``,
seconds, ``-o delay=0.05``) keep some claimed at any moment while load flows,
which is where a killed watcher leaves locks and half-written replies.
"""

from __future__ import annotations

import time

from spoolq.handlers.base import Context
from spoolq.message import Message

DEFAULT_DELAY = 0.05


def slow_echo(message: Message, context: Context) -> Message:
    """Wait ``delay`` seconds, then reply with the request's body (where the reply goes: as echo)."""
    time.sleep(float(context.options.get("delay", DEFAULT_DELAY)))
    return message.reply(message.type, message.body)
