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

import time

from spoolq import trail
from spoolq.limits import MAX_HEADERS
from spoolq.message import CORRELATION_ID, Message
from spoolq.routing import Router

Addressed = list[tuple[str, Message]]  # (spool name on this node, message)


def address_replies(
    router: Router,
    request: Message,
    replies: list[Message],
    default: str,
    correlation: str,
    handled: tuple[str, float] | None = None,
) -> Addressed:
    """Each reply, with ``correlation-id`` set, and the spool it goes to (``default`` if unaddressed).

    ``handled``: (the component's name, when its handler began).  Each reply
    then carries the request's trail and two hops more: ``handled`` by the
    component, ``replied`` into the spool it goes to (:mod:`spoolq.trail`).
    """
    output = []
    for reply in replies:
        if CORRELATION_ID not in reply.header:
            reply = reply.with_header(**{CORRELATION_ID: correlation})
        reply = Router.reply_address(request, reply)
        spool = router.route(reply, default)
        if handled is not None:
            reply = _with_trail(router, request, reply, spool, *handled)
        output.append((spool, reply))
    return output


def _with_trail(router: Router, request: Message, reply: Message, spool: str, name: str, began: float):
    node = trail.local_node(router.node)
    hops = [
        trail.Entry(trail.HANDLED, node, f"component={name}", began),
        trail.Entry(trail.REPLIED, node, f"spool={spool}", time.time()),
    ]
    header = dict(reply.header)
    if trail.TRAIL in header or len(header) < MAX_HEADERS:  # never more fields than a header may hold
        header[trail.TRAIL] = trail.extended(request.header.get(trail.TRAIL, ""), hops)
    return Message(reply.body, header)


def address_emitted(router: Router, outbox: list[tuple[str, Message]]) -> Addressed:
    """``context.emit`` targets: a plain spool name, or ``COMPONENT@NODE`` via ``outgoing``."""
    routed = []
    for target, emitted in outbox:
        if "@" in target:
            emitted = emitted.with_header(to=target)
            target = router.route(emitted)
        routed.append((target, emitted))
    return routed
