"""The dispatcher: turns emitter events into element names for the workers.

It keeps three sets of names, all under one lock:

* ``pending``: queued for a worker or being handled in this process, so
  that a rescan does not hand the same element out twice;
* ``deferred``: met before their ``not-before`` time; offered again when due
  (a heap, so waiting messages cost nothing until then), or shortly after an
  event names one again: its element was written anew under its name
  (``spoolq retry`` made it due now, :mod:`spoolq.component.retry_now`);
* odd names already logged (an element name must be 14 hex digits).

Elements locked by another process are skipped; they come back in a later
rescan if that process dies and the periodic purge unlocks them: at once
when it is known dead (its owner file, :mod:`spoolq.spool.owners`), else once
older than ``lock_timeout``.

A component with one worker passes ``serve_here``: when a wake-up brings a
single new element and nothing is pending, its worker is idle, so the
dispatcher handles that element itself instead of queueing it.  Handling is
serial with one worker either way; this saves the wake-up of a second thread,
which is most of an idle component's notice latency beyond inotify's own
(measured: p50 0.17-0.23 ms against 0.26-0.37).  Bursts (several events in
one read, a listing, due retries) still go through the queue, where the
worker claims and commits them in groups.  With several workers the
dispatcher never handles: a slow handler would hold back the names that the
idle workers could take.
"""

from __future__ import annotations

import heapq
import logging
import os
import queue
import threading
import time
from collections.abc import Callable

from spoolq.spool import Spool, layout
from spoolq.watcher import Emitter, SpoolEvent

log = logging.getLogger("spoolq.component")
BACKLOG = 4  # names waiting for a worker above which the dispatcher lets events gather
BACKLOG_PAUSE = 0.005  # seconds it then waits before reading events again
#: Seconds after an event names a deferred element before it is offered again: the rewriter
#: still holds its lock when the event arrives, and lets go within microseconds.
RENEWED_DELAY = 0.05


class Dispatcher:
    """Feeds ``work`` from ``emitter``; runs in one thread (:meth:`run`)."""

    def __init__(
        self,
        spool: Spool,
        emitter: Emitter,
        work: queue.SimpleQueue,
        *,
        purge_interval: float,
        lock_timeout: float,
        serve_here: Callable[[str], None] | None = None,
        also_purge: Callable[[], object] | None = None,
        take_over: Callable[[], None] | None = None,
    ):
        self.spool = spool
        self.emitter = emitter
        self.work = work
        self.purge_interval = purge_interval
        self.lock_timeout = lock_timeout
        self.serve_here = serve_here
        self.also_purge = also_purge  # run with each purge: the component's output spools
        self.take_over = take_over  # called before each purge: dead consumers' claims (spoolq.spool.takeover)
        self.ready = threading.Event()  # set after the first full scan
        self.running = True
        self._lock = threading.Lock()
        self._pending: set[str] = set()
        self._deferred: list[tuple[float, str]] = []
        self._deferred_names: set[str] = set()
        self._odd_logged: set[str] = set()
        self._next_purge = 0.0  # purge once at start: a previous run may have died holding locks

    # -- called by workers --------------------------------------------------------

    def done(self, name: str) -> None:
        """The worker has finished with ``name`` (handled, parked, gone or taken)."""
        with self._lock:
            self._pending.discard(name)

    def done_many(self, names: list[str]) -> None:
        """:meth:`done` for several names at once (a committed batch)."""
        with self._lock:
            self._pending.difference_update(names)

    def defer(self, name: str, due: float) -> None:
        """Offer ``name`` again at Unix time ``due``."""
        with self._lock:
            self._pending.discard(name)
            if name not in self._deferred_names:
                self._deferred_names.add(name)
                heapq.heappush(self._deferred, (due, name))
        self.emitter.wake()

    # -- the loop -----------------------------------------------------------------

    def run(self) -> None:
        while self.running:
            events = self.emitter.wait(self._timeout())
            if not self.running:
                break
            if time.monotonic() >= self._next_purge:
                self._purge()
                events = [SpoolEvent("rescan")]
            alone = len(events) == 1
            for event in events:
                self._follow(event, alone)
            self._release_due()
            if not self.ready.is_set() and any(s.kind == "rescan" for s in events):
                self.ready.set()
            if self.work.qsize() > BACKLOG:
                # The workers have a backlog: nothing is gained by noticing new elements at
                # once, and every wake (each lock our workers take is an inotify event) costs
                # them the interpreter lock.  Let events gather for a moment.
                time.sleep(BACKLOG_PAUSE)

    def stop(self) -> None:
        self.running = False
        self.emitter.wake()

    def _timeout(self) -> float:
        until = self._next_purge - time.monotonic()
        with self._lock:
            if self._deferred:
                until = min(until, self._deferred[0][0] - time.time())
        return max(0.0, until)

    def _purge(self) -> None:
        if self.take_over is not None:
            try:
                self.take_over()
            except Exception:  # a bug or a disk error must not end the dispatcher; the purge still runs
                log.exception("%s: taking over dead consumers' claims failed", self.spool.path)
        try:
            report = self.spool.purge(max_lock_age=self.lock_timeout)
            if report.unlocked:
                log.warning(
                    "%s: unlocked %d stale claim(s) (older than %g s)",
                    self.spool.path,
                    report.unlocked,
                    self.lock_timeout,
                )
        except OSError as exc:
            log.error("%s: purge failed: %s", self.spool.path, exc)
        if self.also_purge is not None:
            self.also_purge()
        self._next_purge = time.monotonic() + self.purge_interval

    def _follow(self, event: SpoolEvent, alone: bool = False) -> None:
        if event.kind == "element":
            assert event.directory is not None and event.name is not None
            if layout.is_element_name(event.name):
                name = f"{event.directory}/{event.name}"
                if not self._renewed(name):
                    self._offer(name, alone)
            else:
                self._note_odd(f"{event.directory}/{event.name}")
        elif event.kind == "directory":
            assert event.directory is not None
            self._scan(event.directory)
        else:
            for directory in self.spool.directories():
                self._scan(directory)

    def _scan(self, directory: str) -> None:
        try:
            entries = os.listdir(f"{self.spool.path}/{directory}")
        except (FileNotFoundError, NotADirectoryError):
            return
        elements = layout.element_names(entries)
        if len(elements) < len(entries):  # locks, temporaries, or something odd
            others = set(entries).difference(elements)
            for entry in others:
                if not entry.endswith((layout.LOCKED_SUFFIX, layout.TEMPORARY_SUFFIX)):
                    self._note_odd(f"{directory}/{entry}")
            elements = [e for e in elements if e + layout.LOCKED_SUFFIX not in others]
        elements.sort()
        self._offer_many([f"{directory}/{entry}" for entry in elements])

    def _offer(self, name: str, alone: bool = False) -> None:
        """Queue ``name`` for a worker; or, ``alone`` in its wake-up and nothing pending, serve it here."""
        with self._lock:
            if name in self._pending or name in self._deferred_names:
                return
            idle = not self._pending
            self._pending.add(name)
        if alone and idle and self.serve_here is not None:
            self.serve_here(name)
        else:
            self.work.put(name)

    def _renewed(self, name: str) -> bool:
        """Whether ``name`` is deferred, and so was written anew: then it is due in RENEWED_DELAY.

        Its earlier heap entry stays; when due it offers a name already
        handled (gone) or deferred again, both harmless.
        """
        with self._lock:
            if name not in self._deferred_names:
                return False
            heapq.heappush(self._deferred, (time.time() + RENEWED_DELAY, name))
        return True  # (called in the dispatcher's own loop, which times its next wait by the heap)

    def _offer_many(self, names: list[str]) -> None:
        """:meth:`_offer` for a listing: one lock for all (a backlog can be many thousands)."""
        with self._lock:
            fresh = [n for n in names if n not in self._pending and n not in self._deferred_names]
            self._pending.update(fresh)
        for name in fresh:
            self.work.put(name)

    def _release_due(self) -> None:
        now = time.time()
        due = []
        with self._lock:
            while self._deferred and self._deferred[0][0] <= now:
                _, name = heapq.heappop(self._deferred)
                self._deferred_names.discard(name)
                due.append(name)
        for name in due:
            self._offer(name)

    def _note_odd(self, name: str) -> None:
        with self._lock:
            if name in self._odd_logged:
                return
            self._odd_logged.add(name)
        log.warning("%s/%s: ignored: an element name must be 14 hex digits", self.spool.path, name)
