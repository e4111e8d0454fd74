"""The simplest handlers: ``echo`` answers with the same body, ``noop`` does nothing.

Both are for tests, benchmarks and checking a deployment end to end.
"""

from __future__ import annotations

from spoolq.handlers.base import Context, Handler
from spoolq.message import CONTENT_TYPE, Message


class EchoHandler(Handler):
    """Reply with the request's body, type and content type."""

    name = "echo"

    def handle(self, message: Message, context: Context) -> Message:
        extra = {}
        if message.content_type:
            extra[CONTENT_TYPE] = message.content_type
        reply = message.reply(message.type, message.body)
        return reply.with_header(**extra) if extra else reply


class NoopHandler(Handler):
    """Accept every message and say nothing."""

    name = "noop"

    def handle(self, message: Message, context: Context) -> None:
        return None
