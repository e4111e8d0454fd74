"""Where a handler's output goes: each reply and emitted message with its local spool.

Replies go to the request's ``reply-to``, else the component's reply spool;
they carry the request's id as ``correlation-id``.  An address
``COMPONENT@NODE`` (in ``reply-to`` or given to ``context.emit``) goes to the
spool ``COMPONENT`` when NODE is this node, else to the ``outgoing`` spool
with a ``to`` header, for ``spoolq ship`` to relay (see :mod:`spoolq.routing`).
A bad address raises :class:`~spoolq.routing.RoutingError` (the caller parks
that message alone).
"""

from __future__ import annotations

from spoolq.message import CORRELATION_ID, Message
from spoolq.routing import Router

Addressed = list[tuple[str, Message]]  # (spool name on this node, message)


def address_replies(
    router: Router, request: Message, replies: list[Message], default: str, correlation: str
) -> Addressed:
    """Each reply, with ``correlation-id`` set, and the spool it goes to (``default`` if unaddressed)."""
    output = []
    for reply in replies:
        if CORRELATION_ID not in reply.header:
            reply = reply.with_header(**{CORRELATION_ID: correlation})
        reply = Router.reply_address(request, reply)
        output.append((router.route(reply, default), reply))
    return output


def address_emitted(router: Router, outbox: list[tuple[str, Message]]) -> Addressed:
    """``context.emit`` targets: a plain spool name, or ``COMPONENT@NODE`` via ``outgoing``."""
    routed = []
    for target, emitted in outbox:
        if "@" in target:
            emitted = emitted.with_header(to=target)
            target = router.route(emitted)
        routed.append((target, emitted))
    return routed
