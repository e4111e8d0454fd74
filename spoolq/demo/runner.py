"""A small polling runner that serves one spool with one handler, in a thread.

The demo and the end-to-end tests use it to run the Enstore components in
one process until :class:`spoolq.component.Component` is available.  Its
contract is the handler contract of :mod:`spoolq.handlers.base`: replies to
``reply-to`` (else ``<component>_reply``) with the correlation id set,
emitted messages written only after ``handle`` returns, the input acked last;
``Reject`` and any other exception park the message with the reason (no
retries here: the Enstore handlers never raise ``Retry``).
"""

from __future__ import annotations

import collections
import logging
import threading
import traceback
from collections.abc import Iterable, Mapping
from typing import Any

from spoolq.errors import MalformedMessage
from spoolq.handlers.base import Context, Handler, Reject
from spoolq.message import Message
from spoolq.parking import park
from spoolq.root import SpoolRoot

log = logging.getLogger("spoolq.demo")


class SpoolServer(threading.Thread):
    """Serve spool ``spool`` of ``root`` with ``handler`` until :meth:`stop`."""

    def __init__(self, root: SpoolRoot, component: str, spool: str, handler: Handler, *, poll: float = 0.02):
        super().__init__(name=f"spoolq-{component}-{spool}", daemon=True)
        self.root, self.component, self.spool_name, self.handler = root, component, spool, handler
        self.poll = poll
        self.handled: collections.Counter[str] = collections.Counter()
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()

    def context(self) -> Context:
        return Context(self.component, self.spool_name, self.root, options=self.handler.options, log=log)

    def run(self) -> None:
        self.handler.setup(self.context())
        spool = self.root.spool(self.spool_name)
        try:
            while not self._stop_event.is_set():
                busy = False
                for claim in spool.claims():
                    busy = True
                    self._serve(claim)
                    if self._stop_event.is_set():
                        break
                if not busy:
                    self._stop_event.wait(self.poll)
        finally:
            self.handler.teardown()

    def _serve(self, claim) -> None:
        try:
            message = claim.message()
        except MalformedMessage as exc:
            self._park(claim, exc.reason)
            return
        context = self.context()
        try:
            result = self.handler.handle(message, context)
        except Reject as exc:
            self._park(claim, exc.reason, message.type)
            return
        except Exception:  # a handler bug: park with the traceback, keep serving
            self._park(claim, traceback.format_exc(limit=5), message.type)
            return
        for spool, out in context.outbox:
            self.root.spool(spool).put(out)
        for reply in _replies(result):
            target = message.reply_to or f"{self.component}_reply"
            if not reply.correlation_id and message.message_id:
                reply = reply.with_header(correlation_id=message.message_id)
            self.root.spool(target).put(reply)
        self.handled[message.type or "?"] += 1
        claim.ack()

    def _park(self, claim, reason: str, type_: str | None = None) -> None:
        log.warning("%s: parking %s: %s", self.spool_name, claim.name, reason.splitlines()[-1])
        park(self.root, self.spool_name, claim.read(), reason, element=claim.name, attempts=1)
        self.handled[f"parked:{type_ or '?'}"] += 1
        claim.ack()


def _replies(result: None | Message | Iterable[Message]) -> list[Message]:
    if result is None:
        return []
    if isinstance(result, Message):
        return [result]
    return list(result)


def serve_all(root: SpoolRoot, plan: Iterable[tuple[str, str, Handler]]) -> list[SpoolServer]:
    """Start one server per ``(component, spool, handler)``; return them running."""
    servers = [SpoolServer(root, component, spool, handler) for component, spool, handler in plan]
    for server in servers:
        server.start()
    return servers


def stop_all(servers: Iterable[SpoolServer], timeout: float = 10) -> None:
    servers = list(servers)
    for server in servers:
        server.stop()
    for server in servers:
        server.join(timeout)


def handled_counts(servers: Iterable[SpoolServer]) -> Mapping[str, Any]:
    total: collections.Counter[str] = collections.Counter()
    for server in servers:
        total.update(server.handled)
    return total
