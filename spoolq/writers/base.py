"""The one shape of a writer plugin: the edge where data enters the system as messages.

A writer takes one *item* of its own type, as it arrives from outside (a
file to cache, a UDP datagram), stores whatever belongs outside the spools,
and puts the message the item became into a spool::

    class Uploads(Writer[bytes]):
        name = "uploads"
        def write(self, item: bytes) -> str:       # the hook: one item in, one message out
            return self.emit("incoming", Message.new("UPLOAD", item))

``write`` returns the element name of the message it put.  An item that
cannot become a message (malformed, too large) raises
:class:`~spoolq.errors.WriteRefused` with the reason, before anything is
written; the caller counts or reports it and carries on.  ``emit`` puts a
message into a named spool at once (a writer has no handler's outbox: the
item arrived from outside, there is nothing to answer first).  It takes the
addresses a handler's ``context.emit`` takes: ``SPOOL``, or ``SPOOL@NODE``,
which on another node than the writer's ``node`` goes to the ``outgoing``
spool for ``spoolq ship`` to relay (:mod:`spoolq.routing`).

Writers are found by name like handlers (:mod:`spoolq.writers.registry`).
"""

from __future__ import annotations

from typing import Generic, TypeVar

from spoolq.message import Message
from spoolq.routing import TO, Router
from spoolq.spool import SpoolRoot

ItemT = TypeVar("ItemT")


class Writer(Generic[ItemT]):
    """Base class of writers, bound to one spool root on ``node``; ``name`` is the short name, if any."""

    name: str = ""

    def __init__(self, root: SpoolRoot, *, node: str | None = None):
        self.root = root
        self.router = Router(node)

    def write(self, item: ItemT) -> str:
        """Turn ``item`` into a message in a spool; its element name.  Raise ``WriteRefused`` to refuse."""
        raise NotImplementedError(f"{type(self).__name__} must define write(item)")

    def emit(self, spool: str, message: Message) -> str:
        """Put ``message`` into ``spool`` (or towards ``SPOOL@NODE``) now; return its element name.

        A bad address raises :class:`~spoolq.routing.RoutingError` before anything is written.
        """
        if "@" in spool:
            message = message.with_header(**{TO: spool})
            spool = self.router.route(message)
        return self.root.spool(spool).put(message)
