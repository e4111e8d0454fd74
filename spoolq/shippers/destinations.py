"""The broker destination of one outgoing message, refused before sending when not well-formed.

A shipper's destination address holds ``{node}`` (``/queue/spoolq.{node}``),
filled with the node part of each message's ``to: COMPONENT@NODE``.  That part
is written by whoever made the message (a remote requester chooses its own
``reply-to``), so it must stay one plain name inside the destination path:

- a ``/`` or a ``..`` would choose another queue, an exchange or a topic
  (``x@../../exchange/amq.topic/k`` gives ``/queue/spoolq../../exchange/...``);
- a control character, a space or a STOMP escape would change the frame.

Such a message is refused here, with the reason, and parked by the shipper; it
is never sent.  A node is a name of letters, digits, ``_``, ``-`` and ``.``
(not starting with ``.`` or ``-``, no ``..``), at most
:data:`spoolq.limits.MAX_NODE_NAME` characters: :func:`spoolq.routing.check_node_name`.
"""

from __future__ import annotations

import re

from spoolq.routing import RoutingError, check_node_name

_CONTROL = re.compile(r"[\x00-\x20\x7f]").search


def destination_for(address: str, node: str | None) -> str:
    """``address`` with its ``{node}`` filled in; :class:`RoutingError` when that is not well-formed."""
    if "{node}" not in address:
        return address  # the operator's own, from the configuration
    if node is None:
        raise RoutingError("message has no 'to: COMPONENT@NODE' header: no node to send it to")
    try:
        check_node_name(node)
    except RoutingError as exc:
        raise RoutingError(f"{exc}; not sent") from None
    return check_destination(address.format(node=node))


def check_destination(destination: str) -> str:
    """``destination`` if it is a plain path (``/queue/name``, or a bare name), else :class:`RoutingError`.

    No control character or space, and no segment that is empty (but the one
    before a leading ``/``), ``.`` or ``..``: brokers read those as a path.
    """
    first, *rest = destination.split("/")
    if _CONTROL(destination) or first in (".", "..") or any(part in ("", ".", "..") for part in rest):
        raise RoutingError(f"destination {destination[:200]!r} is not a well-formed STOMP path; not sent")
    return destination
