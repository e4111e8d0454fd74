"""A worker's loop step: take names from the work queue, handle them, commit in groups."""

from __future__ import annotations

import queue
import threading
import time

from spoolq.component.dispatcher import Dispatcher
from spoolq.component.processing import Processor

STOP = None  # sentinel on the work queue: a worker that takes it ends
BATCH_SIZE = 64  # at most this many answered messages share one commit
BATCH_SECONDS = 0.01  # and a batch stays open no longer than this (64 fit on tmpfs)


def serve_batch(
    work: queue.SimpleQueue,
    processor: Processor,
    dispatcher: Dispatcher,
    draining: threading.Event,
) -> bool:
    """Handle one message, and more while they are at hand; ``False`` once told to end.

    Group commit: while further names wait in the queue (and for at most
    BATCH_SECONDS or BATCH_SIZE messages), handle them before writing, so that
    one flush per target spool covers them all.  Names are taken one at a
    time, so a slow handler never hoards work that other workers could do.
    While draining, names still queued are handed back unclaimed.
    """
    name = work.get()
    if name is STOP:
        return False
    answered = []
    started = time.monotonic()
    go_on = True
    while True:
        if draining.is_set():
            dispatcher.done(name)  # not claimed: whoever runs next takes it
        else:
            result = processor.process(name)
            if result is not None:
                answered.append(result)
        if len(answered) >= BATCH_SIZE or time.monotonic() - started > BATCH_SECONDS:
            break
        try:
            name = work.get_nowait()
        except queue.Empty:
            break
        if name is STOP:
            go_on = False
            break
    if answered:
        processor.commit(answered)
    return go_on
