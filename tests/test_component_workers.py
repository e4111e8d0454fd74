"""The worker loop: quick handlers get their names claimed in groups, slow ones one at a time."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

from spoolq.component import workers
from spoolq.component.dispatcher import Dispatcher
from spoolq.component.processing import Processor
from spoolq.component.workers import GROUP_SIZE, STOP, serve_batch
from spoolq.config import ComponentConfig
from spoolq.handlers.registry import HandlerTable
from spoolq.message import Message
from spoolq.metrics.component import ComponentMetrics
from spoolq.spool import SpoolRoot
from spoolq.watcher import PollingEmitter

CLAIMED_AHEAD: list[int] = []  # at each handler call: names locked whose handler has not run yet


def _note_claimed_ahead(context) -> None:
    root = Path(context.root.path)
    locks = sum(1 for _ in (root / "pe").glob("*/*.lck"))
    committed = sum(1 for path in (root / "pe_reply").glob("*/*") if path.suffix != ".tmp")
    answered_not_committed = len(CLAIMED_AHEAD) - committed
    CLAIMED_AHEAD.append(locks - answered_not_committed - 1)  # less this call's own claim


def quick(message: Message, context) -> Message:
    _note_claimed_ahead(context)
    return message.reply("DONE", message.body)


def slow(message: Message, context) -> Message:
    _note_claimed_ahead(context)
    time.sleep(0.003)
    return message.reply("DONE", message.body)


STOPPED = threading.Event()  # the processor's "stopped at once" flag
DRAINING = threading.Event()


def stops_at_second_call(message: Message, context) -> Message:
    _note_claimed_ahead(context)
    if len(CLAIMED_AHEAD) == 2:  # the first of a claimed group: stop as Component.stop does
        STOPPED.set()
        DRAINING.set()
    return message.reply("DONE", message.body)


def serve_all(root: SpoolRoot, handler: str, count: int, *, committed: bool = True) -> None:
    """Queue ``count`` messages and run one worker over them until STOP."""
    CLAIMED_AHEAD.clear()
    STOPPED.clear()
    DRAINING.clear()
    spool = root.spool("pe")
    work: queue.SimpleQueue = queue.SimpleQueue()
    for index in range(count):
        work.put(spool.put(Message.new("T", str(index))))
    work.put(STOP)
    config = ComponentConfig(name="pe", spool="pe", handler=f"{__name__}:{handler}")
    emitter = PollingEmitter(spool.path, interval=60)  # never run: the queue is filled above
    dispatcher = Dispatcher(spool, emitter, work, purge_interval=60, lock_timeout=60)
    table = HandlerTable(config.handler, config.types, config.options)
    metrics = ComponentMetrics(config.name, config.spool)
    processor = Processor(config, root, table, dispatcher, metrics, STOPPED)
    try:
        while serve_batch(work, processor, dispatcher, DRAINING):
            pass
    finally:
        emitter.close()
    if committed:
        assert root.spool("pe").count() == 0
        assert root.spool("pe_reply").count() == count


def test_quick_handlers_get_a_group_of_names_claimed_before_they_run(root, monkeypatch):
    # "Quick" is under 1 ms a message; a slow CI machine must not make these handlers slow.
    monkeypatch.setattr(workers, "QUICK_SECONDS", 0.02)
    serve_all(root, "quick", 100)
    assert len(CLAIMED_AHEAD) == 100
    assert max(CLAIMED_AHEAD) == GROUP_SIZE - 1  # the first of a group runs, the rest are claimed


def test_a_slow_handler_claims_one_name_at_a_time(root):
    serve_all(root, "slow", 8)
    assert CLAIMED_AHEAD == [0] * 8


def test_a_stop_in_the_middle_of_a_group_leaves_the_rest_claimed_and_unhandled(root):
    serve_all(root, "stops_at_second_call", 10, committed=False)
    assert len(CLAIMED_AHEAD) == 2  # no handler ran after the stop
    spool = root.spool("pe")
    assert spool.count() == 10 and all(spool.is_locked(name) for name in spool.names())
    assert root.spool("pe_reply").count() == 0  # stopped: nothing committed, retried when stale
