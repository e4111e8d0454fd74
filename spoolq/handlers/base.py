"""The one shape of a handler plugin, and the exceptions a handler raises on purpose.

A handler is a class with three hooks, all optional but ``handle``::

    class Archive(Handler):
        def setup(self, context): ...            # once, before the first message
        def handle(self, message, context): ...  # once per message
        def teardown(self): ...                  # once, at shutdown

``handle`` returns ``None`` (nothing to say), one :class:`~spoolq.Message`
(the reply), or an iterable of messages (several replies).  Replies go to the
request's ``reply-to`` spool, else to ``<component>_reply``, and carry the
request's ``message-id`` as ``correlation-id``.  Messages for any other spool
are sent with ``context.emit(spool, message)``.  Nothing a handler returns or
emits is written unless ``handle`` returns normally; only then is the input
removed.  So a crash or an exception never half-answers a message.

Raise :class:`~spoolq.errors.Retry` to try the message again later (with backoff; other
messages are not held up) and :class:`~spoolq.errors.Reject` to park it at once with a reason.
Any other exception counts as a failed attempt; after the last attempt the
message is parked with the exception and its traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spoolq.message import Message
from spoolq.spool import SpoolRoot


@dataclass
class Context:
    """What a handler may know and do besides reading its message.

    ``options`` is the handler's own section of the configuration; ``attempt``
    counts from 1 for the message being handled.  ``emit`` queues a message
    for another spool; queued messages are written only if ``handle`` succeeds.
    ``node`` is this node's name (the configuration's ``node``), so that a
    handler can give other nodes an address that reaches it
    (``SPOOL@NODE``); ``None`` when no node is configured.
    """

    component: str
    spool: str
    root: SpoolRoot
    options: Mapping[str, Any] = field(default_factory=dict)
    attempt: int = 1
    log: logging.Logger = field(default_factory=lambda: logging.getLogger("spoolq.handler"))
    outbox: list[tuple[str, Message]] = field(default_factory=list)
    node: str | None = None

    def emit(self, spool: str, message: Message) -> None:
        """Send ``message`` to ``spool`` once the current message is handled."""
        self.outbox.append((spool, message))


class Handler:
    """Base class of handler plugins; ``name`` is the short built-in name, if any."""

    name: str = ""

    def __init__(self, options: Mapping[str, Any] | None = None):
        self.options = dict(options or {})

    def setup(self, context: Context) -> None:
        """Prepare (open files, connect); called once before the first message."""

    def handle(self, message: Message, context: Context) -> None | Message | Iterable[Message]:
        raise NotImplementedError(f"{type(self).__name__} must define handle(message, context)")

    def teardown(self) -> None:
        """Release what ``setup`` took; called once at shutdown."""
