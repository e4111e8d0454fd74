"""Handling one element, from claim to ack: the heart of a component.

Order of work for an element, and why:

1. :func:`spoolq.component.intake.take` checks, reads and locks it;
2. decode (a :class:`MalformedMessage` is parked with its reason);
3. a ``not-before`` in the future: unlock, and ask the dispatcher to offer it
   again when due (one no retry could have written, unreadable or further
   ahead than ``max_delay``, is parked);
4. find the handler (none for the type: park), call it with a fresh Context;
5. write the replies and the ``context.outbox`` messages, *then* remove the
   input: a crash before the removal re-delivers, never loses.  A worker
   may commit a few answered messages together (group commit: one flush of
   each target spool for all of them), never removing an input before its
   output is on disk;
6. ``Retry`` or an exception: rewrite the message for a later attempt (see
   :mod:`spoolq.component.retry`), then remove the input; after the last
   attempt, or on ``Reject``, park it with the reason and traceback.

No exception leaves the handling of one message: anything raised while
reading, decoding or routing it, or encoding its output, parks that message
with the exception as the reason, and the worker goes on.  Only a failure of
the spool itself (:class:`SpoolError`, ``OSError``: a full disk, a
permission) leaves the message locked, to be tried again once its lock is
stale, since it is not the message's fault.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback

from spoolq import envelope
from spoolq.component import intake, retry
from spoolq.component.addressing import address_emitted, address_replies
from spoolq.component.answers import Answered, as_messages
from spoolq.component.dispatcher import Dispatcher
from spoolq.config import ComponentConfig
from spoolq.errors import MalformedMessage, Reject, Retry, SpoolError, SpoolqError
from spoolq.handlers.base import Context
from spoolq.handlers.registry import HandlerTable
from spoolq.metrics.component import ComponentMetrics
from spoolq.routing import Router, RoutingError
from spoolq.spool import Claim, Spool, SpoolRoot, parking
from spoolq.spool.directories import DirectoryHandles
from spoolq.spool.root import check_spool_name

log = logging.getLogger("spoolq.component")


class Processor:
    """Handles element names for one component; shared by its worker threads."""

    def __init__(
        self,
        config: ComponentConfig,
        root: SpoolRoot,
        table: HandlerTable,
        dispatcher: Dispatcher,
        metrics: ComponentMetrics,
        stopped: threading.Event,
        node: str | None = None,
    ):
        self.config = config
        self.root = root
        self.spool = root.spool(config.spool)
        self.table = table
        self.dispatcher = dispatcher
        self.metrics = metrics
        self.stopped = stopped
        self.in_flight: set[str] = set()  # names whose locks the refresher keeps fresh
        # Each series bound once: labelling a metric per message was a measurable cost.
        self._handled = metrics.handled
        self._retried = metrics.retried
        self._parked = metrics.parked
        self._latency = metrics.latency
        self._router = Router(node)  # COMPONENT@<another node> goes to the outgoing spool
        self._reply_spool = config.reply_spool or f"{config.name}_reply"
        self._skipped: set[str] = set()  # names ignored (not regular files), logged once
        self._valid_targets: set[str] = set()  # output spool names already checked
        self._swept_every_spool = False  # the first sweep looks in every spool (output_spools)

    def output_spools(self) -> list[Spool]:
        """The spools this component writes to and that exist: replies, parked, and targets met so far.

        The first call (the sweep at start) names every spool of the root: a
        killed predecessor may have been writing to any spool a ``to`` header
        or an emitted message named, which this run has not met yet.
        """
        found = []
        try:
            found.append(self.root.parked(self.config.spool, create=False))
        except SpoolqError:
            pass  # nothing parked yet: nothing to sweep
        names = [self._reply_spool, *list(self._valid_targets)]
        if not self._swept_every_spool:
            self._swept_every_spool = True
            names += self.root.spool_names()
        for name in dict.fromkeys(names):
            if name == self.config.spool:
                continue  # the input spool: the dispatcher purges it
            try:
                found.append(self.root.spool(name, create=False))
            except SpoolqError:
                continue  # not made yet: nothing to sweep
        return found

    def claim(self, name: str, handles: DirectoryHandles | None = None) -> Claim | None:
        """Check, read and lock ``name``: its :class:`Claim`, or ``None`` (finished here).

        A claim returned must be passed to :meth:`handle`.  ``handles``: the
        calling worker's directory descriptors (kept open until it holds no claim).
        """
        try:
            verdict = intake.take(self.spool, self.root, name, self.config.max_size, handles)
            if verdict.claimed:
                self.in_flight.add(name)
                return Claim(self.spool, name, f"{self.spool.path}/{name}", verdict.data, verdict.dir_fd)
            if verdict.parked:
                self._parked.inc()
            elif verdict.refused:
                if name not in self._skipped:
                    self._skipped.add(name)  # one line, not one at every rescan
                    log.error("%s/%s: %s", self.spool.path, name, verdict.reason)
            elif verdict is not intake.TAKEN and name not in self._skipped:
                self._skipped.add(name)  # left alone: say so once, not at every rescan
                log.warning("%s/%s: ignored: %s", self.spool.path, name, verdict.reason)
        except SpoolqError as exc:
            log.error("%s/%s: %s", self.spool.path, name, exc)
        except Exception:  # a bug of ours must not kill the worker; a lock taken goes stale, retried
            log.exception("%s/%s: failed; retried once its lock is stale", self.spool.path, name)
        self.dispatcher.done(name)
        return None

    def count_parked(self, count: int) -> None:
        """``count`` messages were parked outside :meth:`handle` (they killed a process)."""
        self._parked.inc(count)

    def handle(self, claim: Claim) -> Answered | None:
        """Handle a claimed element.

        Returns the :class:`Answered` record when the handler succeeded: its
        output is not written yet, the caller passes it to :meth:`commit`
        (possibly with others, so that one flush covers several).  Every other
        outcome is finished here, the dispatcher told.
        """
        answered = deferred = None
        try:
            answered, deferred = self._handle_claim(claim)
            return answered
        except (SpoolError, OSError) as exc:  # the spool failed, not the message: the lock goes stale
            log.error("%s: %s; retried once its lock is stale", claim.where, exc)
        except Exception:  # about this message alone (poison, or a bug of ours): park it, go on
            self._park_failed(claim, "failed while reading, decoding or routing it")
        finally:
            if answered is None:
                self.in_flight.discard(claim.name)
                if not deferred:
                    self.dispatcher.done(claim.name)
        return None

    def _handle_claim(self, claim: Claim) -> tuple[Answered | None, bool]:
        """Handle a locked element: (its answer if handled, whether it was deferred)."""
        data = claim.read()
        try:
            message = claim.message()
        except MalformedMessage as exc:
            self._park(claim, data, exc.reason, attempts=0)
            return None, False
        try:
            due = retry.not_before(message, self.config.retry, time.time())
        except MalformedMessage as exc:
            self._park(claim, data, exc.reason, retry.attempt_of(message))
            return None, False
        if due and due > time.time():
            claim.release()
            self.dispatcher.defer(claim.name, due)
            return None, True
        attempt = retry.attempt_of(message)
        handler = self.table.lookup(message)
        if handler is None:
            self._park(claim, data, f"no handler for message type {message.type!r}", attempt)
            return None, False
        context = Context(
            self.config.name,
            self.config.spool,
            self.root,
            self.config.options,
            attempt,
            log,
            node=self._router.node,
        )
        began, started = time.time(), time.perf_counter()
        try:
            replies = as_messages(handler.handle(message, context))
        except Retry as request:
            self._retry(claim, data, message, attempt, request.reason, request.delay)
        except Reject as verdict:
            self._park(claim, data, verdict.reason, attempt)
        except Exception:
            self._retry(claim, data, message, attempt, traceback.format_exc(), None)
        else:
            self._latency.observe(time.perf_counter() - started)
            try:
                correlation = message.message_id or f"{self.config.spool}/{claim.name}"
                output = address_replies(
                    self._router, message, replies, self._reply_spool, correlation, (self.config.name, began)
                )
                if context.outbox:
                    output += address_emitted(self._router, context.outbox)
                for spool_name, _ in output:
                    if spool_name not in self._valid_targets:  # one bad address must not fail a batch
                        self._valid_targets.add(check_spool_name(spool_name))
            except (SpoolError, RoutingError) as exc:
                self._park(claim, data, f"cannot deliver the handler's output: {exc}", attempt)
                return None, False
            return Answered(claim, data, message, attempt, output), False
        return None, False

    def commit(self, batch: list[Answered]) -> None:
        """Write the output of ``batch`` (one flush per target spool), then remove the inputs.

        If a write fails, each message of the batch counts a failed attempt
        (output already written may be written again: at least once).
        """
        try:
            if self.stopped.is_set():
                return  # stopped at once: leave the claims locked, retried when stale
            # Encoded here, all together, rather than by put_many between its system calls:
            # the same bytes, and the encoder runs with warm caches (measurably cheaper).
            by_spool: dict[str, list[bytes]] = {}
            written = []  # the answers whose output encoded: the others are parked
            for answered in batch:
                try:
                    encoded = [(target, envelope.encode(output)) for target, output in answered.output]
                except Exception:  # e.g. a lone surrogate in a reply: this message alone is parked
                    self._park_failed(answered.claim, "cannot encode the handler's output", answered.attempt)
                    continue
                written.append(answered)
                for spool_name, data in encoded:
                    by_spool.setdefault(spool_name, []).append(data)
            try:
                for spool_name, outputs in by_spool.items():
                    self.root.spool(spool_name).put_many(outputs)
            except SpoolqError as exc:
                for a in written:
                    reason = f"cannot write the handler's output: {exc}"
                    self._retry(a.claim, a.data, a.message, a.attempt, reason, None)
                return
            for answered in written:
                answered.claim.ack()
            self._handled.inc(len(written))
        except SpoolqError as exc:
            log.error("%s: %s", self.spool.path, exc)
        finally:
            names = [answered.claim.name for answered in batch]
            self.in_flight.difference_update(names)
            self.dispatcher.done_many(names)

    def _retry(self, claim, data, message, attempt, reason: str, delay: float | None) -> None:
        if self.stopped.is_set():
            return
        policy = self.config.retry
        if attempt >= policy.max_attempts:
            self._park(claim, data, f"gave up after {attempt} attempt(s): {reason}", attempt)
            return
        wait = retry.backoff(policy, attempt, delay)
        self.spool.put(retry.next_attempt(message, data, attempt, wait, reason))
        claim.ack()
        self._retried.inc()
        log.warning(
            "%s: attempt %d failed, retrying in %.3g s: %s",
            claim.where,
            attempt,
            wait,
            reason.strip().splitlines()[-1] if reason.strip() else "",
        )

    def _park_failed(self, claim: Claim, what: str, attempts: int = 0) -> None:
        """Park ``claim`` after an unexpected exception (being handled now), the traceback as reason.

        If even parking fails, the message stays locked and is tried again once the lock is stale.
        """
        try:
            self._park(claim, claim.read(), f"{what}: {traceback.format_exc()}", attempts)
        except Exception:
            log.exception("%s: %s, and cannot park it; retried once its lock is stale", claim.where, what)

    def _park(self, claim: Claim, data: bytes, reason: str, attempts: int) -> None:
        if self.stopped.is_set():
            return
        # As it arrived: without the headers our retries added, so a replay puts back those bytes.
        original = retry.as_arrived(data)
        parked = parking.park(
            self.root, self.config.spool, original, reason, element=claim.name, attempts=attempts
        )
        claim.ack()
        self._parked.inc()
        last_line = reason.strip().splitlines()[-1] if reason.strip() else ""
        log.error("%s: parked as %s: %s", claim.where, parked, last_line)
