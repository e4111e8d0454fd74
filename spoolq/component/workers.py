"""A worker's loop step: take names from the work queue, handle them, commit in groups."""

from __future__ import annotations

import queue
import threading
import time

from spoolq.component.answers import Answered
from spoolq.component.dispatcher import Dispatcher
from spoolq.component.processing import Processor
from spoolq.spool.directories import DirectoryHandles
from spoolq.spool.owners import NO_LEDGER, Ledger

STOP = None  # sentinel on the work queue: a worker that takes it ends
BATCH_SIZE = 64  # at most this many answered messages share one commit
BATCH_SECONDS = 0.01  # and a batch stays open no longer than this (64 fit on tmpfs)
GROUP_SIZE = 32  # names claimed together before their handlers run, while handlers are quick
QUICK_SECONDS = 0.001  # a batch whose messages took less than this each counts as quick
_NONE_WAITING: queue.SimpleQueue = queue.SimpleQueue()  # never filled: a name served alone ends its batch


def serve_batch(
    work: queue.SimpleQueue,
    processor: Processor,
    dispatcher: Dispatcher,
    draining: threading.Event,
    handles: DirectoryHandles | None = None,
    ledger: Ledger = NO_LEDGER,
) -> bool:
    """Handle one message, and more while they are at hand; ``False`` once told to end.

    ``handles``: this worker's directory descriptors, kept across batches
    (trimmed after each, when no claim is held); without them, a batch opens
    its own.

    Group commit: while further names wait in the queue (and for at most
    BATCH_SECONDS or BATCH_SIZE messages), handle them before writing, so that
    one flush per target spool covers them all.

    Claims come in groups: up to GROUP_SIZE waiting names are claimed (read
    and locked) one after the other, then their handlers run one after the
    other.  Measured: Python code right after a run of system calls runs
    much slower (cold caches), so keeping the system calls of a group
    together makes decoding and handling cheaper.  A group is claimed only
    while the messages so far took under QUICK_SECONDS each, so a slow
    handler takes its names one at a time and never hoards work that other
    workers could do.  While draining, names still queued are handed back
    unclaimed.

    ``ledger``: this worker's slot in the owner file (:mod:`spoolq.spool.owners`),
    where its claims and the element in hand are noted, so that a successor
    takes them over at once if this process dies, and counts the death
    against the element in hand (:mod:`spoolq.spool.poison`).
    """
    name = work.get()
    if name is STOP:
        return False
    if handles is None:
        with DirectoryHandles(processor.spool.path) as own:
            return _serve(name, work, processor, dispatcher, draining, own, ledger)
    return _serve(name, work, processor, dispatcher, draining, handles, ledger)


def serve_one(
    name: str,
    processor: Processor,
    dispatcher: Dispatcher,
    draining: threading.Event,
    handles: DirectoryHandles,
    ledger: Ledger = NO_LEDGER,
) -> None:
    """Handle ``name`` alone, in the calling thread (the dispatcher's, while the one worker is idle)."""
    _serve(name, _NONE_WAITING, processor, dispatcher, draining, handles, ledger)


def _serve(
    name: str,
    work: queue.SimpleQueue,
    processor: Processor,
    dispatcher: Dispatcher,
    draining: threading.Event,
    handles: DirectoryHandles,
    ledger: Ledger,
) -> bool:
    """:func:`serve_batch` from its first name on."""
    answered: list[Answered] = []
    started = time.monotonic()
    seen = 0  # names taken from the queue in this batch
    names, go_on = [name], True
    while names:
        if draining.is_set():
            dispatcher.done_many(names)  # not claimed: whoever runs next takes it
        else:
            claims = [claim for name in names if (claim := processor.claim(name, handles)) is not None]
            if claims:
                ledger.claimed([claim.name for claim in claims])
            for claim in claims:
                if processor.stopped.is_set():
                    break  # stopped at once: the rest of the group stays locked, retried when stale
                ledger.handling(claim.name)
                result = processor.handle(claim)
                ledger.handled()
                if result is not None:
                    answered.append(result)
            seen += len(names)
        elapsed = time.monotonic() - started
        if not go_on or len(answered) >= BATCH_SIZE or elapsed > BATCH_SECONDS:
            break
        group = GROUP_SIZE if elapsed < QUICK_SECONDS * seen else 1
        names, go_on = _waiting(work, min(group, BATCH_SIZE - len(answered)))
    if answered:
        processor.commit(answered)
    if not processor.stopped.is_set():
        ledger.released()  # stopped: the claims left locked stay noted, for a successor
    handles.trim()  # every claim of this batch is acked, released or left: none is held
    return go_on


def _waiting(work: queue.SimpleQueue, limit: int) -> tuple[list[str], bool]:
    """Up to ``limit`` names already queued (never waits); ``False`` if STOP was met."""
    names: list[str] = []
    while len(names) < limit:
        try:
            name = work.get_nowait()
        except queue.Empty:
            break
        if name is STOP:
            return names, False
        names.append(name)
    return names, True
