"""Handling one element, from claim to ack: the heart of a component.

Order of work for an element, and why:

1. :func:`spoolq.component.intake.take` checks and locks it;
2. decode (a :class:`MalformedMessage` is parked with its reason);
3. a ``not-before`` in the future: unlock, and ask the dispatcher to offer it
   again when due;
4. find the handler (none for the type: park), call it with a fresh Context;
5. write the replies and the ``context.outbox`` messages, *then* remove the
   input: a crash before the removal re-delivers, never loses;
6. ``Retry`` or an exception: rewrite the message for a later attempt (see
   :mod:`spoolq.component.retry`), then remove the input; after the last
   attempt, or on ``Reject``, park it with the reason and traceback.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Iterable

from spoolq import parking
from spoolq.component import intake, retry
from spoolq.component.dispatcher import Dispatcher
from spoolq.config import ComponentConfig
from spoolq.errors import MalformedMessage, SpoolqError
from spoolq.handlers.base import Context, Reject, Retry
from spoolq.handlers.registry import HandlerTable
from spoolq.message import CORRELATION_ID, Message
from spoolq.metrics import Metrics
from spoolq.root import SpoolRoot
from spoolq.spool import Claim

log = logging.getLogger("spoolq.component")

HANDLED = "spoolq_messages_handled_total"
RETRIED = "spoolq_messages_retried_total"
PARKED = "spoolq_messages_parked_total"
LATENCY = "spoolq_handle_seconds"


def describe_metrics(metrics: Metrics) -> None:
    metrics.describe(HANDLED, "counter", "Messages handled and removed from their spool.")
    metrics.describe(RETRIED, "counter", "Messages written back for a later attempt.")
    metrics.describe(PARKED, "counter", "Messages parked (rejected, malformed, oversize, no handler).")
    metrics.describe(LATENCY, "summary", "Seconds spent in the handler per message.")


class Processor:
    """Handles element names for one component; shared by its worker threads."""

    def __init__(
        self,
        config: ComponentConfig,
        root: SpoolRoot,
        table: HandlerTable,
        dispatcher: Dispatcher,
        metrics: Metrics,
        stopped: threading.Event,
    ):
        self.config = config
        self.root = root
        self.spool = root.spool(config.spool)
        self.table = table
        self.dispatcher = dispatcher
        self.metrics = metrics
        self.stopped = stopped
        self.in_flight: set[str] = set()  # names whose locks the refresher keeps fresh
        self._labels = {"component": config.name}

    def process(self, name: str) -> None:
        """Claim and handle ``name``; every outcome ends with the dispatcher told."""
        deferred = False
        try:
            verdict = intake.take(self.spool, self.root, name, self.config.max_size)
            if not verdict.claimed:
                if verdict is not intake.TAKEN and verdict.reason.startswith(("symlink", "element of")):
                    self.metrics.inc(PARKED, **self._labels)
                return
            self.in_flight.add(name)
            deferred = self._handle_claim(Claim(self.spool, name))
        except SpoolqError as exc:
            log.error("%s/%s: %s", self.spool.path, name, exc)
        except Exception:  # a bug of ours must not kill the worker; the lock goes stale, it is retried
            log.exception(
                "%s/%s: unexpected failure; left for a retry once its lock is stale", self.spool.path, name
            )
        finally:
            self.in_flight.discard(name)
            if not deferred:
                self.dispatcher.done(name)

    def _handle_claim(self, claim: Claim) -> bool:
        """Handle a locked element; ``True`` when it was deferred to later."""
        data = claim.read()
        try:
            message = claim.message()
        except MalformedMessage as exc:
            self._park(claim, data, exc.reason, attempts=0)
            return False
        due = retry.not_before(message)
        if due > time.time():
            claim.release()
            self.dispatcher.defer(claim.name, due)
            return True
        attempt = retry.attempt_of(message)
        handler = self.table.lookup(message)
        if handler is None:
            self._park(claim, data, f"no handler for message type {message.type!r}", attempt)
            return False
        context = Context(self.config.name, self.config.spool, self.root, self.config.options, attempt)
        started = time.perf_counter()
        try:
            replies = _as_list(handler.handle(message, context))
        except Retry as request:
            self._retry(claim, data, message, attempt, request.reason, request.delay)
        except Reject as verdict:
            self._park(claim, data, verdict.reason, attempt)
        except Exception:
            self._retry(claim, data, message, attempt, traceback.format_exc(), None)
        else:
            self.metrics.observe(LATENCY, time.perf_counter() - started, **self._labels)
            self._commit(claim, data, message, attempt, replies, context.outbox)
        return False

    def _commit(self, claim, data, message, attempt, replies, outbox) -> None:
        if self.stopped.is_set():
            return  # stopped at once: leave the claim locked, retried when stale
        try:
            target = message.reply_to or self.config.reply_spool or f"{self.config.name}_reply"
            correlation = message.message_id or f"{self.config.spool}/{claim.name}"
            for reply in replies:
                if CORRELATION_ID not in reply.header:
                    reply = reply.with_header(**{CORRELATION_ID: correlation})
                self.root.spool(target).put(reply)
            for spool_name, onward in outbox:
                self.root.spool(spool_name).put(onward)
        except SpoolqError as exc:
            self._retry(claim, data, message, attempt, f"cannot write the handler's output: {exc}", None)
            return
        claim.ack()
        self.metrics.inc(HANDLED, **self._labels)

    def _retry(self, claim, data, message, attempt, reason: str, delay: float | None) -> None:
        if self.stopped.is_set():
            return
        policy = self.config.retry
        if attempt >= policy.max_attempts:
            self._park(claim, data, f"gave up after {attempt} attempt(s): {reason}", attempt)
            return
        wait = retry.backoff(policy, attempt) if delay is None else delay
        self.spool.put(retry.next_attempt(message, attempt, wait, reason))
        claim.ack()
        self.metrics.inc(RETRIED, **self._labels)
        log.warning(
            "%s: attempt %d failed, retrying in %.3g s: %s",
            claim.where,
            attempt,
            wait,
            reason.strip().splitlines()[-1] if reason.strip() else "",
        )

    def _park(self, claim: Claim, data: bytes, reason: str, attempts: int) -> None:
        if self.stopped.is_set():
            return
        parking.park(self.root, self.config.spool, data, reason, element=claim.name, attempts=attempts)
        claim.ack()
        self.metrics.inc(PARKED, **self._labels)
        log.error("%s: parked: %s", claim.where, reason.strip().splitlines()[-1] if reason.strip() else "")


def _as_list(result: None | Message | Iterable[Message]) -> list[Message]:
    if result is None:
        return []
    if isinstance(result, Message):
        return [result]
    replies = list(result)
    for reply in replies:
        if not isinstance(reply, Message):
            raise TypeError(f"a handler returned {type(reply).__name__}, not a Message")
    return replies
