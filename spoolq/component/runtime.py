"""The component runtime: one spool, one handler table, N worker threads.

API (small and stable; ``spoolq watch`` and ``spoolq run`` use only this)::

    component = Component(config, root)   # loads the handlers (HandlerNotFound, ConfigError);
                                          # keywords: metrics, rescan_interval, poll_interval, node,
                                          # source (the configuration file, named in errors),
                                          # on_change (called when ready or ended is set)
    component.start()                     # watches, first scan, workers; returns at once
    component.ready.wait()                # watches in place and first scan done
    component.ended.wait()                # every thread's work is over (drained, stopped, failed)
    component.drain()                     # finish in-flight messages, claim nothing new
    component.stop()                      # at once: claims in flight stay locked
    component.join(timeout) -> bool       # True once every thread has ended
    component.metrics                     # its ComponentMetrics: handled, retried, parked, latency

The dispatcher's periodic purge of the input spool (once at start, then
every ``min(rescan_interval, lock_timeout / 2)``) also sweeps the spools the
component writes to for temporaries a killed predecessor left
(:mod:`spoolq.spool.output_sweep`).

Threads: a dispatcher (blocks in the emitter; no busy loop; with one worker
it handles a lone new element itself while the worker is idle, see
:mod:`spoolq.component.dispatcher`), ``config.workers`` workers, a lock
refresher (touches the locks of messages being handled every
``lock_timeout / 3``), a drop box watcher when one is configured, and
a ticker putting ``TICK`` into the spool when ``config.tick`` is set.

The component registers as an owner of its spool (:mod:`spoolq.spool.owners`) and
notes each handling thread's claims there; at its start and at each purge
it takes over the claims of owners that died (:mod:`spoolq.spool.takeover`), so
that a restarted watcher does not wait ``lock_timeout`` for them, and a
message that killed its process ``retry.max_attempts`` times is parked.
Handlers' ``setup`` runs in ``start``, ``teardown`` once the workers ended.
A handler instance is shared by the workers: with ``workers > 1`` its
``handle`` runs in several threads at once; with one worker, in one thread at
a time, though not always the same one (the dispatcher's or the worker's), so
a handler must not keep state per thread.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable

from spoolq.component.dispatcher import Dispatcher
from spoolq.component.processing import Processor
from spoolq.component.ticker import Ticker
from spoolq.component.workers import STOP, serve_batch, serve_one
from spoolq.config import ComponentConfig
from spoolq.errors import HandlerError, SpoolqError
from spoolq.handlers.base import Context
from spoolq.handlers.registry import component_handlers
from spoolq.metrics.component import ComponentMetrics
from spoolq.spool import SpoolRoot
from spoolq.spool.directories import DirectoryHandles
from spoolq.spool.output_sweep import OutputSweep
from spoolq.spool.owners import NO_LEDGER, Ledger, Ownership, register_owner
from spoolq.spool.takeover import take_over
from spoolq.watcher import make_emitter

log = logging.getLogger("spoolq.component")


class Component:
    """Serve ``config.spool`` of ``root`` with ``config``'s handlers until drained or stopped."""

    def __init__(
        self,
        config: ComponentConfig,
        root: SpoolRoot,
        *,
        metrics: ComponentMetrics | None = None,
        rescan_interval: float = 30.0,
        poll_interval: float = 1.0,
        node: str | None = None,
        source: str | None = None,
        on_change: Callable[[], None] | None = None,
    ):
        self.config = config
        self.root = root
        self.spool = root.spool(config.spool)
        self.metrics = metrics or ComponentMetrics(config.name, config.spool)
        self.rescan_interval = rescan_interval
        self.poll_interval = poll_interval
        self.node = node  # this node's name in COMPONENT@NODE addresses (None: all are remote)
        self.table = component_handlers(config, source)
        self.ready = threading.Event()
        self.ended = threading.Event()
        # A main loop passes on_change to sleep until the component is ready or has ended,
        # instead of waking every so often to look: an idle watcher then never wakes.
        self._on_change = on_change
        self._live_threads = 0  # threads whose work is not over, plus one while start() runs
        self._work: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._draining = threading.Event()
        self._stopped = threading.Event()
        self._handling_over = threading.Event()  # no thread can handle a message any more: ends the refresher
        self._live_handlers = 0  # threads that may still handle a message: workers, and a serving dispatcher
        self._count_lock = threading.Lock()
        # Held while the threads are started and while they are told to end: a thread that
        # fails at once (the dispatcher drains then) must reach the threads started after it.
        self._spawning = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._workers: list[threading.Thread] = []
        self._dispatcher: Dispatcher | None = None
        self._dropbox = None
        self._ticker: Ticker | None = None
        self._torn_down = False
        self._ownership: Ownership | None = None
        self._dispatcher_ledger = NO_LEDGER

    def start(self) -> None:
        """Set up the handlers, place the watches and start every thread."""
        self._live_threads = 1  # start() itself: ``ended`` cannot be set before every thread is started
        try:
            with self._spawning:
                self._start()
        finally:
            self._thread_ended()

    def _start(self) -> None:
        try:
            self.table.setup(
                Context(self.config.name, self.config.spool, self.root, self.config.options, node=self.node)
            )
        except SpoolqError:
            raise
        except Exception as exc:  # a plugin's own failure: one clear line for the operator
            raise HandlerError(f"component {self.config.name}: handler setup failed: {exc!r}") from exc
        emitter = make_emitter(
            self.spool.path,
            poll=self.config.poll,
            poll_interval=self.poll_interval,
            rescan_interval=self.rescan_interval,
        )
        purge_every = max(0.5, min(self.rescan_interval, self.config.lock_timeout / 2))
        workers = max(1, self.config.workers)
        serves = workers == 1  # the dispatcher serves lone elements itself (see its module)
        self._live_handlers = workers + serves
        self._ownership = register_owner(self.root.path, self.spool.name, workers + serves, self.config.name)
        if serves and self._ownership is not None:
            self._dispatcher_ledger = self._ownership.ledger()
        self._dispatcher = Dispatcher(
            self.spool,
            emitter,
            self._work,
            purge_interval=purge_every,
            lock_timeout=self.config.lock_timeout,
            serve_here=self._serve_in_dispatcher if serves else None,
            take_over=self._take_over if self._ownership is not None else None,
        )
        processor = Processor(
            self.config, self.root, self.table, self._dispatcher, self.metrics, self._stopped, self.node
        )
        self._processor = processor
        # Each purge of the input spool also sweeps the spools the component writes to.
        sweep = OutputSweep(processor.output_spools, 0.0, f"component {self.config.name}")
        self._dispatcher.also_purge = sweep.sweep
        self._spawn("dispatcher", self._run_dispatcher)
        for index in range(workers):
            ledger = self._ownership.ledger() if self._ownership is not None else NO_LEDGER
            work = functools.partial(self._run_worker, ledger)
            self._workers.append(self._spawn(f"worker-{index}", work))
        self._spawn("lock-refresher", self._refresh_locks)
        if self.config.dropbox:
            from spoolq.watcher.dropbox import Dropbox

            self._dropbox = Dropbox(
                self.config.dropbox, self.spool, poll=self.config.poll, poll_interval=self.poll_interval
            )
            self._spawn("dropbox", self._dropbox.run)
        if self.config.tick:
            self._ticker = Ticker(self.spool, self.config.tick)
            self._spawn("ticker", self._ticker.run)
        self._spawn("ready", self._announce_ready)

    def drain(self) -> None:
        """Finish the messages being handled; claim nothing new; then end."""
        if self._draining.is_set():
            return
        log.info("%s: draining", self.config.name)
        self._draining.set()
        self._end_threads()

    def stop(self) -> None:
        """End now: handlers still running are abandoned (their claims left for the next consumer)."""
        log.info("%s: stopping", self.config.name)
        if self._ownership is not None:
            self._ownership.forgive()  # the handlers abandoned now did not kill the process
        self._stopped.set()
        self._draining.set()
        self._handling_over.set()  # the refresher ends now: abandoned locks must go stale
        self._end_threads()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the threads; ``True`` when all have ended (then handlers are torn down)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
            if thread.is_alive():
                return False
        if not self._torn_down:
            self._torn_down = True
            self.table.teardown()
            if self._dispatcher is not None:
                self._dispatcher.emitter.close()
            if self._ownership is not None:
                self._ownership.close()
        return True

    @property
    def running(self) -> bool:
        return self._live_threads > 0

    # -- threads ----------------------------------------------------------------------

    def _spawn(self, role: str, target) -> threading.Thread:
        name = f"spoolq-{self.config.name}-{role}"
        thread = threading.Thread(target=self._run_thread, args=(target,), name=name, daemon=True)
        with self._count_lock:
            self._live_threads += 1
        try:
            thread.start()
        except BaseException:
            self._thread_ended()  # never ran: neither counted nor joined
            raise
        self._threads.append(thread)
        return thread

    def _run_thread(self, target) -> None:
        try:
            target()
        finally:
            self._thread_ended()

    def _thread_ended(self) -> None:
        with self._count_lock:
            self._live_threads -= 1
            last = self._live_threads == 0
        if last:
            self.ended.set()
            self._changed()

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()

    def _end_threads(self) -> None:
        with self._spawning:
            self._tell_threads_to_end()

    def _tell_threads_to_end(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.stop()
        if self._dropbox is not None:
            self._dropbox.stop()
        if self._ticker is not None:
            self._ticker.stop()
        for _ in self._workers:
            self._work.put(STOP)

    def _run_dispatcher(self) -> None:
        assert self._dispatcher is not None
        self._dispatcher_handles = DirectoryHandles(self.spool.path)  # for the names it serves itself
        try:
            self._dispatcher.run()
        except Exception:
            log.exception("%s: dispatcher failed; draining", self.config.name)
            self.drain()
        finally:
            self._dispatcher_handles.close()
            if self._dispatcher.serve_here is not None:
                self._handler_thread_ended()

    def _serve_in_dispatcher(self, name: str) -> None:
        handles, ledger = self._dispatcher_handles, self._dispatcher_ledger
        serve_one(name, self._processor, self._dispatcher, self._draining, handles, ledger)

    def _take_over(self) -> None:
        assert self._ownership is not None
        report = take_over(self.spool, self.root, self._ownership, self.config.retry.max_attempts)
        if report.parked:
            self._processor.count_parked(report.parked)

    def _announce_ready(self) -> None:
        assert self._dispatcher is not None
        while not self._dispatcher.ready.wait(0.5):
            if self._draining.is_set():
                return
        if self._dropbox is not None:
            self._dropbox.ready.wait()
        self.ready.set()
        log.info("%s: ready, watching %s", self.config.name, self.spool.path)
        self._changed()

    def _run_worker(self, ledger: Ledger) -> None:
        handles = DirectoryHandles(self.spool.path)  # this thread's own: closed only between its batches
        try:
            while serve_batch(self._work, self._processor, self._dispatcher, self._draining, handles, ledger):
                pass
        finally:
            handles.close()
            self._handler_thread_ended()

    def _handler_thread_ended(self) -> None:
        """The last thread that could handle a message has ended: the refresher's work is over."""
        with self._count_lock:
            self._live_handlers -= 1
            if self._live_handlers == 0:
                self._handling_over.set()

    def _refresh_locks(self) -> None:
        interval = self.config.lock_timeout / 3
        while not self._handling_over.wait(interval):
            if self._stopped.is_set():
                return  # stopped: let the locks go stale so that they are retried
            for name in list(self._processor.in_flight):
                try:
                    self.spool.touch(name)
                except Exception as exc:  # gone meanwhile (acked): nothing to refresh
                    log.debug("%s/%s: lock not refreshed: %s", self.spool.path, name, exc)
