"""The UDP bridge: legacy Enstore UDP tickets in, spool messages out, replies back by UDP.

The bridge is a writer (:class:`~spoolq.writers.base.Writer`) whose item is a
:class:`Datagram`.  Each datagram on the listening socket is parsed as a ticket
(:mod:`spoolq.enstore.udp.tickets`) and put into ``spool`` as a JSON message whose
``type`` is the ticket's ``work`` (else ``UDP_TICKET``), with ``reply-to`` set
to ``reply_spool``.  Its ``message-id`` is remembered with the sender's
address, on disk (:mod:`spoolq.enstore.udp.pending`: a restarted proxy still
answers); a message arriving on ``reply_spool`` whose ``correlation-id``
matches is sent back to that address, in the form the request came in.

Nothing a sender does stops the proxy: oversized, undecodable or non-dict
datagrams are counted and logged; replies nobody waits for (unknown or
expired correlation id) are parked with the reason.
"""

from __future__ import annotations

import collections
import logging
import os
import select
import socket
import threading
from dataclasses import dataclass

from spoolq.enstore.udp.pending import PendingRequests
from spoolq.enstore.udp.tickets import TicketError, format_ticket, jsonable, parse_ticket
from spoolq.errors import MalformedMessage, WriteRefused
from spoolq.message import Message
from spoolq.spool import SpoolRoot
from spoolq.spool.parking import park
from spoolq.writers.base import Writer

log = logging.getLogger("spoolq.udp_proxy")

DEFAULT_MAX_SIZE = 16 * 1024  # bytes; Enstore tickets are a few hundred


@dataclass(frozen=True)
class Datagram:
    """One datagram as it arrived: the UDP bridge's writer item."""

    data: bytes
    peer: tuple[str, int]


class UdpProxy(Writer[Datagram]):
    """Bridge ``address`` (host, port) to ``spool``; replies come back on ``reply_spool``."""

    name = "udp_proxy"

    def __init__(
        self,
        root: SpoolRoot,
        spool: str,
        reply_spool: str,
        address: tuple[str, int] = ("127.0.0.1", 0),
        *,
        max_size: int = DEFAULT_MAX_SIZE,
        reply_timeout: float = 3600.0,
    ):
        super().__init__(root)
        self.spool, self.reply_spool = spool, reply_spool
        self.max_size, self.reply_timeout = max_size, reply_timeout
        self.counts: collections.Counter[str] = collections.Counter()
        self.waiting = PendingRequests(os.path.join(root.path, ".state", f"udp-{reply_spool}"))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self._stop = threading.Event()

    @property
    def address(self) -> tuple[str, int]:
        return self.sock.getsockname()

    def stop(self) -> None:
        self._stop.set()

    def serve(self, poll: float = 0.05) -> None:
        """Run until :meth:`stop`: take datagrams, send back replies."""
        try:
            while not self._stop.is_set():
                readable, _, _ = select.select([self.sock], [], [], poll)
                if readable:
                    self.receive_one()
                self.send_replies()
        finally:
            self.sock.close()

    def receive_one(self) -> None:
        data, peer = self.sock.recvfrom(self.max_size + 1)
        self.counts["received"] += 1
        try:
            self.write(Datagram(data, peer))
        except WriteRefused as exc:
            self._refuse(peer, exc.kind, exc.reason)

    def write(self, item: Datagram) -> str:
        """Put the ticket ``item`` carries into ``spool`` and remember its sender; the element name."""
        if len(item.data) > self.max_size:
            raise WriteRefused(f"{len(item.data)}+ bytes > {self.max_size}", "oversized")
        try:
            ticket, form = parse_ticket(item.data)
            body = jsonable(ticket)
        except (TicketError, TypeError, ValueError) as exc:
            raise WriteRefused(str(exc), "malformed") from None
        work = ticket.get("work")
        message = Message.new(
            work if isinstance(work, str) and work else "UDP_TICKET",
            body,
            reply_to=self.reply_spool,
            udp_peer=f"{item.peer[0]}:{item.peer[1]}",
        )
        name = self.emit(self.spool, message)
        self.waiting.add(message.message_id, item.peer, form)
        self.counts["forwarded"] += 1
        return name

    def _refuse(self, peer: tuple[str, int], kind: str, why: str) -> None:
        self.counts[kind] += 1
        log.warning("udp-proxy: %s datagram from %s:%s dropped: %s", kind, peer[0], peer[1], why)

    def send_replies(self) -> None:
        self._expire()
        spool = self.root.spool(self.reply_spool)
        for claim in spool.claims():
            try:
                reply = claim.message()
                target = self.waiting.pop(reply.correlation_id or "")
                if target is None:
                    raise LookupError(f"no request waits for correlation-id {reply.correlation_id!r}")
                peer, form, _ = target
                self.sock.sendto(format_ticket(reply.payload(), form), peer)
                self.counts["replied"] += 1
            except (MalformedMessage, LookupError, OSError) as exc:
                self.counts["unrouted"] += 1
                park(self.root, self.reply_spool, claim.read(), f"udp-proxy: {exc}", element=claim.name)
            claim.ack()

    def _expire(self) -> None:
        self.counts["expired"] += self.waiting.expire(self.reply_timeout)
