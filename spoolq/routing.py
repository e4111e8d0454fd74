"""Addressing across nodes: which local spool a message belongs in.

A message names its destination in the ``to`` header (or, for a reply whose
``to`` is unset, in the request's ``reply-to`` that the reply copied there):

``COMPONENT@NODE``
    when NODE is this node, the message goes to the spool ``COMPONENT``;
    otherwise it goes to the outgoing spool, where ``spoolq ship`` relays it
    through the broker to NODE, whose ``spoolq receive`` writes it into its own
    spool ``COMPONENT``.
``COMPONENT``
    a plain spool name: always local.

A remote requester chooses its ``reply-to``, so both parts are checked where
the address is parsed: COMPONENT must be a valid spool name, NODE a
hostname-like name (letters, digits, ``-``, ``.``, ``_``; not starting with
``.`` or ``-``, no ``..``, at most :data:`~spoolq.limits.MAX_NODE_NAME`
characters).  Anything else (``x@a/b``, ``x@../../exchange/amq.topic/k``)
raises :class:`RoutingError`, so it never reaches a spool or a broker
destination.

So a request from ``client@node1`` to ``md@node2`` carries
``reply-to: client@node1``; the handler on node2 answers with
``to = request.reply_to`` and the reply travels back the same way.

The component runtime calls :meth:`Router.route` for replies and emits; the
receiver calls :meth:`Router.deliver_here` for what arrives from the broker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spoolq.errors import SpoolqError
from spoolq.limits import MAX_NODE_NAME
from spoolq.message import REPLY_TO, Message
from spoolq.spool.root import check_spool_name

TO = "to"
_NODE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*").fullmatch


class RoutingError(SpoolqError):
    """A message's address cannot be routed (no address, bad name, wrong node)."""


@dataclass(frozen=True)
class Address:
    """``component@node``; ``node`` is ``None`` for a plain local spool name."""

    component: str
    node: str | None

    @classmethod
    def parse(cls, text: str) -> Address:
        """``COMPONENT`` or ``COMPONENT@NODE``; :class:`RoutingError` saying which part is wrong."""
        component, at, node = text.strip().partition("@")
        if at and not node:
            raise RoutingError(f"address {text[:300]!r}: nothing after '@' (use COMPONENT@NODE)")
        try:
            check_spool_name(component)
        except SpoolqError as exc:
            raise RoutingError(f"address {text[:300]!r}: {exc}") from None
        if node:
            check_node_name(node, text)
        return cls(component, node or None)

    def __str__(self) -> str:
        return f"{self.component}@{self.node}" if self.node else self.component


def check_node_name(node: str, address: str | None = None) -> str:
    """Return ``node`` if it can name a node, else raise :class:`RoutingError`.

    A node name ends up in broker destinations (``/queue/spoolq.{node}``), so
    nothing that a broker or a path could read as structure is allowed.
    """
    if len(node) > MAX_NODE_NAME or not _NODE_NAME(node) or ".." in node:
        where = f"address {address[:300]!r}: " if address is not None else ""
        raise RoutingError(
            f"{where}node {node[:300]!r} is not a valid node name: use letters, digits, '_', '-', '.' "
            f"(not starting with '.' or '-', no '..'), at most {MAX_NODE_NAME} characters"
        )
    return node


def address_of(message: Message) -> Address | None:
    """The message's destination: its ``to`` header, else ``None``."""
    text = message.header.get(TO)
    return Address.parse(text) if text else None


@dataclass(frozen=True)
class Router:
    """Routes messages for this ``node``; remote ones go to the ``outgoing`` spool."""

    node: str | None
    outgoing: str = "outgoing"

    def is_local(self, address: Address) -> bool:
        return address.node is None or address.node == self.node

    def route(self, message: Message, default: str | None = None) -> str:
        """The spool to write ``message`` into on this node.

        A message without a ``to`` goes to ``default``; without one either,
        :class:`RoutingError` is raised (the caller parks the message).
        """
        address = address_of(message)
        if address is None:
            if default is None:
                raise RoutingError("message has no 'to' header and there is no default spool")
            return default
        return address.component if self.is_local(address) else self.outgoing

    def deliver_here(self, message: Message, default: str) -> str:
        """Where a message that arrived from the broker goes; refuses other nodes' mail."""
        address = address_of(message)
        if address is None:
            return default
        if not self.is_local(address):
            raise RoutingError(f"message is addressed to {address}, but this node is {self.node!r}")
        return address.component

    @staticmethod
    def reply_address(request: Message, reply: Message) -> Message:
        """``reply`` addressed to where ``request`` asked answers to go (``reply-to``)."""
        if TO in reply.header or not request.header.get(REPLY_TO):
            return reply
        return reply.with_header(to=request.header[REPLY_TO])
