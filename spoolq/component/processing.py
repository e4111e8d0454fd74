"""Handling one element, from claim to ack: the heart of a component.

Order of work for an element, and why:

1. :func:`spoolq.component.intake.take` checks and locks it;
2. decode (a :class:`MalformedMessage` is parked with its reason);
3. a ``not-before`` in the future: unlock, and ask the dispatcher to offer it
   again when due;
4. find the handler (none for the type: park), call it with a fresh Context;
5. write the replies and the ``context.outbox`` messages, *then* remove the
   input: a crash before the removal re-delivers, never loses.  A worker
   may commit a few answered messages together (group commit: one flush of
   each target spool for all of them), never removing an input before its
   output is on disk;
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
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Answered:
    """A message its handler has answered; the output waits for :meth:`Processor.commit`."""

    claim: Claim
    data: bytes
    message: Message
    attempt: int
    output: list[tuple[str, Message]]  # (spool name, message): replies first, then the outbox


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

    def process(self, name: str) -> Answered | None:
        """Claim and handle ``name``.

        Returns the :class:`Answered` record when the handler succeeded: its
        output is not written yet, the caller passes it to :meth:`commit`
        (possibly with others, so that one flush covers several).  Every other
        outcome is finished here, the dispatcher told.
        """
        answered = deferred = None
        try:
            verdict = intake.take(self.spool, self.root, name, self.config.max_size)
            if not verdict.claimed:
                if verdict is not intake.TAKEN and verdict.reason.startswith(("symlink", "element of")):
                    self.metrics.inc(PARKED, **self._labels)
                return None
            self.in_flight.add(name)
            answered, deferred = self._handle_claim(Claim(self.spool, name))
            return answered
        except SpoolqError as exc:
            log.error("%s/%s: %s", self.spool.path, name, exc)
        except Exception:  # a bug of ours must not kill the worker; the lock goes stale, it is retried
            log.exception("%s/%s: failed; retried once its lock is stale", self.spool.path, name)
        finally:
            if answered is None:
                self.in_flight.discard(name)
                if not deferred:
                    self.dispatcher.done(name)
        return None

    def _handle_claim(self, claim: Claim) -> tuple[Answered | None, bool]:
        """Handle a locked element: (its answer if handled, whether it was deferred)."""
        data = claim.read()
        try:
            message = claim.message()
        except MalformedMessage as exc:
            self._park(claim, data, exc.reason, attempts=0)
            return None, False
        due = retry.not_before(message)
        if due > time.time():
            claim.release()
            self.dispatcher.defer(claim.name, due)
            return None, True
        attempt = retry.attempt_of(message)
        handler = self.table.lookup(message)
        if handler is None:
            self._park(claim, data, f"no handler for message type {message.type!r}", attempt)
            return None, False
        context = Context(self.config.name, self.config.spool, self.root, self.config.options, attempt, log)
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
            return Answered(
                claim, data, message, attempt, self._addressed(claim, message, replies) + list(context.outbox)
            ), False
        return None, False

    def _addressed(self, claim: Claim, message: Message, replies: list[Message]) -> list[tuple[str, Message]]:
        target = message.reply_to or self.config.reply_spool or f"{self.config.name}_reply"
        correlation = message.message_id or f"{self.config.spool}/{claim.name}"
        return [
            (
                target,
                reply
                if CORRELATION_ID in reply.header
                else reply.with_header(**{CORRELATION_ID: correlation}),
            )
            for reply in replies
        ]

    def commit(self, batch: list[Answered]) -> None:
        """Write the output of ``batch`` (one flush per target spool), then remove the inputs.

        If a write fails, each message of the batch counts a failed attempt
        (output already written may be written again: at least once).
        """
        try:
            if self.stopped.is_set():
                return  # stopped at once: leave the claims locked, retried when stale
            by_spool: dict[str, list[Message]] = {}
            for answered in batch:
                for spool_name, output in answered.output:
                    by_spool.setdefault(spool_name, []).append(output)
            try:
                for spool_name, outputs in by_spool.items():
                    self.root.spool(spool_name).put_many(outputs)
            except SpoolqError as exc:
                for a in batch:
                    reason = f"cannot write the handler's output: {exc}"
                    self._retry(a.claim, a.data, a.message, a.attempt, reason, None)
                return
            for answered in batch:
                answered.claim.ack()
            self.metrics.inc(HANDLED, len(batch), **self._labels)
        except SpoolqError as exc:
            log.error("%s: %s", self.spool.path, exc)
        finally:
            for answered in batch:
                self.in_flight.discard(answered.claim.name)
                self.dispatcher.done(answered.claim.name)

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
