"""Writing received batches durably in a thread of their own, and acking each after its write.

A receiver that takes a batch, writes it and only then acks leaves the broker
idle while it writes: the unacked messages use up the prefetch, so no frame
travels until the ack, and after it the next frames must first arrive.  On
the ext4 root disk here creating the files and the one ``syncfs`` took about
85 % of the receiving loop's time.  A :class:`BatchWriter` writes batch N
while the receiving loop takes and decodes batch N+1 (the GIL is released in
the file system calls and in ``syncfs``), and the broker, which still has
credit for the batch being taken, keeps sending.

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
from spoolq.writer import StagedPut

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
    """Two threads that write and ack the batches of one link, in order; :meth:`close` waits for them.

    The *stager* takes every batch waiting at once, merged into one, and
    writes its files (:meth:`Spool.stage_many`: not yet flushed, not yet
    visible); the *publisher* flushes them, names them, records the ids and
    acks.  So the files of batch N+1 are created while the flushes of batch N
    wait on the disk, and while the stager works the next batches gather:
    the writes grow as large as the disk needs to keep up.  ``limit`` bounds
    the messages handed over and not yet taken up: the broker's prefetch
    bounds them already, except with an ``auto`` ack mode.
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
        self._inbox: deque[ReceivedBatch] = deque()
        self._waiting = 0  # messages in ``_inbox``
        self._limit = max(1, limit)
        self._staged: deque[tuple[ReceivedBatch, list[StagedPut]]] = deque()
        self._busy = 0  # batches being staged or published
        self._closing = False
        self._stager_done = False
        self._changed = threading.Condition()
        self._threads = [
            threading.Thread(target=self._stage_loop, name=f"{name}-stage", daemon=True),
            threading.Thread(target=self._publish_loop, name=f"{name}-publish", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, batch: ReceivedBatch) -> None:
        """Hand ``batch`` over (after the ones before it); waits while ``limit`` messages wait."""
        self.pending.update(batch.ids)
        with self._changed:
            while self._waiting >= self._limit and not self._stager_done:
                self._changed.wait(1.0)
            self._inbox.append(batch)
            self._waiting += batch.size
            self.backlog += batch.size
            self._changed.notify_all()

    def wait_idle(self) -> None:
        """Return once every batch handed over is written and acked, or dropped."""
        with self._changed:
            while (self._inbox or self._staged or self._busy) and all(t.is_alive() for t in self._threads):
                self._changed.wait(1.0)

    def close(self) -> None:
        """Finish what was handed over (a lost link's batches are dropped), then end the threads."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        for thread in self._threads:
            thread.join()

    # -- the stager -------------------------------------------------------------------

    def _stage_loop(self) -> None:
        while True:
            with self._changed:
                while not self._inbox and not self._closing:
                    self._changed.wait()
                if not self._inbox:
                    self._stager_done = True
                    self._changed.notify_all()
                    return
                batch = _merge(list(self._inbox))
                self._inbox.clear()
                self._waiting = 0
                self._busy += 1
                self._changed.notify_all()  # room for the next submit
            parts = self._stage(batch)
            with self._changed:
                self._busy -= 1
                if parts is None:
                    self.backlog -= batch.size
                else:
                    self._staged.append((batch, parts))
                self._changed.notify_all()

    def _stage(self, batch: ReceivedBatch) -> list[StagedPut] | None:
        """The batch's files, written per spool; ``None`` when dropped or failed."""
        if batch.link.lost.is_set():
            self.pending.difference_update(batch.ids)  # never written: the broker redelivers them
            return None
        parts: list[StagedPut] = []
        try:
            for spool, envelopes in batch.envelopes.items():
                parts.append(self.root.spool(spool).stage_many(envelopes))
        except Exception as exc:  # noqa: BLE001  (whatever failed, nothing of it may be acked)
            _discard(parts)
            self._fail(batch, exc)
            return None
        return parts

    # -- the publisher ----------------------------------------------------------------

    def _publish_loop(self) -> None:
        while True:
            with self._changed:
                while not self._staged and not self._stager_done:
                    self._changed.wait()
                if not self._staged:
                    return
                batch, parts = self._staged.popleft()
                self._busy += 1
            try:
                self._publish(batch, parts)
            finally:
                with self._changed:
                    self._busy -= 1
                    self.backlog -= batch.size
                    self._changed.notify_all()

    def _publish(self, batch: ReceivedBatch, parts: list[StagedPut]) -> None:
        link = batch.link
        if link.lost.is_set():
            _discard(parts)
            self.pending.difference_update(batch.ids)
            return
        try:
            for number, part in enumerate(parts):
                try:
                    part.publish()
                except BaseException:
                    _discard(parts[number + 1 :])
                    raise
            # RACE: recorded in ``recent`` before leaving ``pending``, so the receiving
            # loop, which looks in both, never misses an id between the two.
            self.recent.add_many(batch.ids)
            self.pending.difference_update(batch.ids)
        except Exception as exc:  # noqa: BLE001  (whatever failed, nothing of it may be acked)
            self._fail(batch, exc)
            return
        if os.environ.get(EXIT_AFTER_WRITE):
            os._exit(137)
        try:
            link.ack_many(batch.acks)
        except ShipError as exc:  # the link went: written, so a redelivery is dropped as duplicate
            self.status.last_error = str(exc)
            return
        self.status.done += len(batch.ids)

    def _fail(self, batch: ReceivedBatch, exc: Exception) -> None:
        self.pending.difference_update(batch.ids)
        self.status.last_error = f"write failed, not acked: {exc}"
        log.error("receiver %s: %s", self.status.name, self.status.last_error)
        batch.link.mark_lost()  # later batches of this link are dropped; reconnect, redelivery


def _discard(parts: list[StagedPut]) -> None:
    for part in parts:
        part.discard()


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
