"""Writing received batches durably in a thread of their own, and acking each after its write.

The receiving loop takes a batch of frames, decodes and routes it, and hands
it to the connection's :class:`BatchWriter`, which writes it (one
``Spool.put_many`` per spool, one sync), records the ids and acks, while the
loop goes on with the next batch.  The thread takes every batch waiting at
once and writes them as one: while it writes, the next batches gather, so a
write grows as large as the disk needs to keep up and each sync serves as
many messages as it can.  The file system calls and the sync release the
GIL, so the loop and stomp.py's reader thread run meanwhile.

The guarantees stay those of a serial receiver:

* batches are written, and acked, in the order they were handed over;
* a batch is acked only after its elements and its message ids are durable;
* a batch whose write fails is never acked: its link is marked lost, and the
  batches of that link still waiting are dropped unwritten (a lost link is
  never acked again); the broker redelivers all of them after the reconnect;
* the ids of the batches handed over and not yet recorded are
  :attr:`BatchWriter.pending`, so the receiving loop drops a duplicate of a
  message that is still being written (its ack then follows that write).

A receiver runs one writer per connection, as a shipper runs one claimer:
:meth:`BatchWriter.close` finishes (or, for a lost link, drops) what was
handed over, and the next connection starts with nothing pending.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from dataclasses import dataclass, field

from spoolq.errors import ShipError
from spoolq.root import SpoolRoot
from spoolq.shippers.link import Link
from spoolq.shippers.recent_ids import RecentIds
from spoolq.shippers.status import ShipperStatus

log = logging.getLogger("spoolq.shippers")

#: Test hook: exit at once (no ack) right after a batch is written, as ``kill -9`` would.
EXIT_AFTER_WRITE = "SPOOLQ_TEST_EXIT_AFTER_WRITE"


@dataclass
class ReceivedBatch:
    """What one batch of frames came to: envelopes per spool, their ids, and every ack it owes."""

    link: Link
    envelopes: dict[str, list[bytes]] = field(default_factory=dict)  # spool name -> envelopes
    ids: list[str] = field(default_factory=list)  # spoolq-ids of the envelopes
    acks: list[str] = field(default_factory=list)  # written, duplicate and parked messages

    @property
    def size(self) -> int:
        return sum(len(items) for items in self.envelopes.values())


class BatchWriter:
    """A thread that writes and acks the batches of one link, in order; :meth:`close` waits for it.

    The thread takes every batch waiting at once and writes them as one
    (one ``put_many`` per spool, one sync, one ack write): while it writes,
    the next batches gather, so the writes grow as large as the disk needs to
    keep up, and each sync serves as many messages as possible.
    ``limit`` bounds the messages handed over and not yet taken up: the
    broker's prefetch bounds them already, except with an ``auto`` ack mode.
    """

    def __init__(
        self,
        root: SpoolRoot,
        recent: RecentIds,
        status: ShipperStatus,
        *,
        limit: int = 1000,
        name: str = "receive-writer",
    ):
        self.root = root
        self.recent = recent
        self.status = status
        self.pending: set[str] = set()  # ids handed over, not yet recorded in ``recent``
        self.backlog = 0  # messages handed over, not yet written (or dropped)
        self._batches: deque[ReceivedBatch] = deque()
        self._waiting = 0  # messages in ``_batches``
        self._limit = max(1, limit)
        self._changed = threading.Condition()
        self._busy = False
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, batch: ReceivedBatch) -> None:
        """Hand ``batch`` over (after the ones before it); waits while ``limit`` messages wait."""
        self.pending.update(batch.ids)
        with self._changed:
            while self._waiting >= self._limit and self._thread.is_alive():
                self._changed.wait(1.0)
            self._batches.append(batch)
            self._waiting += batch.size
            self.backlog += batch.size
            self._changed.notify_all()

    def wait_idle(self) -> None:
        """Return once every batch handed over is written and acked, or dropped."""
        with self._changed:
            while (self._batches or self._busy) and self._thread.is_alive():
                self._changed.wait(1.0)

    def close(self) -> None:
        """Finish what was handed over (a lost link's batches are dropped), then end the thread."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._batches and not self._closing:
                    self._changed.wait()
                if not self._batches:
                    return
                batches = list(self._batches)
                self._batches.clear()
                self._waiting = 0
                self._busy = True
                self._changed.notify_all()  # room for the next submit
            merged = _merge(batches)
            try:
                self._handle(merged)
            finally:
                with self._changed:
                    self._busy = False
                    self.backlog -= merged.size
                    self._changed.notify_all()

    def _handle(self, batch: ReceivedBatch) -> None:
        link = batch.link
        if link.lost.is_set():
            self.pending.difference_update(batch.ids)  # never written: the broker redelivers them
            return
        try:
            self._write(batch)
        except Exception as exc:  # noqa: BLE001  (whatever failed, nothing of it may be acked)
            self.pending.difference_update(batch.ids)
            self.status.last_error = f"write failed, not acked: {exc}"
            log.error("receiver %s: %s", self.status.name, self.status.last_error)
            link.mark_lost()  # later batches of this link are dropped; reconnect, redelivery
            return
        if os.environ.get(EXIT_AFTER_WRITE):
            os._exit(137)
        try:
            link.ack_many(batch.acks)
        except ShipError as exc:  # the link went: written, so a redelivery is dropped as duplicate
            self.status.last_error = str(exc)
            return
        self.status.done += len(batch.ids)

    def _write(self, batch: ReceivedBatch) -> None:
        for spool, envelopes in batch.envelopes.items():
            self.root.spool(spool).put_many(envelopes)
        # RACE: recorded in ``recent`` before leaving ``pending``, so the receiving loop,
        # which looks in both, never misses an id between the two.
        self.recent.add_many(batch.ids)
        self.pending.difference_update(batch.ids)


def _merge(batches: list[ReceivedBatch]) -> ReceivedBatch:
    """One batch of all ``batches`` (all of one link), their order kept within each spool."""
    if len(batches) == 1:
        return batches[0]
    merged = ReceivedBatch(batches[0].link)
    for batch in batches:
        for spool, envelopes in batch.envelopes.items():
            merged.envelopes.setdefault(spool, []).extend(envelopes)
        merged.ids.extend(batch.ids)
        merged.acks.extend(batch.acks)
    return merged
