"""A one-worker component serves a lone new message in its dispatcher thread, never two at once."""

from __future__ import annotations

import itertools
import os
import threading
import time
from pathlib import Path

import pytest

from spoolq import envelope
from spoolq.component import Component
from spoolq.config import ComponentConfig
from spoolq.message import Message
from spoolq.spool import SpoolRoot
from tests.waiting import wait_until

THREADS: list[str] = []  # the thread each handler call ran in
_inside = 0
_most_inside = 0
_count_lock = threading.Lock()
_element_numbers = itertools.count(1)
DIRECTORY = "10000000"  # made before the component starts: watched from its first scan


def observe(message: Message, context) -> Message:
    """Note the calling thread and how many calls overlap; take a moment when asked."""
    global _inside, _most_inside
    with _count_lock:
        _inside += 1
        _most_inside = max(_most_inside, _inside)
    THREADS.append(threading.current_thread().name.rsplit("-", 1)[-1])
    time.sleep(float(context.options.get("sleep", 0)))
    with _count_lock:
        _inside -= 1
    return message.reply("DONE", message.body)


@pytest.fixture
def component(root: SpoolRoot, serving):
    global _inside, _most_inside
    THREADS.clear()
    _inside = _most_inside = 0
    os.makedirs(f"{root.spool('pe').path}/{DIRECTORY}")

    def start(workers: int, sleep: float = 0.0, lock_timeout: float = 600.0) -> Component:
        config = ComponentConfig(
            name="pe",
            spool="pe",
            handler=f"{__name__}:observe",
            workers=workers,
            options={"sleep": str(sleep)},
            lock_timeout=lock_timeout,
        )
        return serving(config, root, rescan_interval=30)

    return start


def drop(root: SpoolRoot, body: str) -> None:
    """Publish one element by a rename into the watched directory: one inotify event."""
    directory = Path(root.spool("pe").path) / DIRECTORY
    name = f"{next(_element_numbers):014x}"
    (directory / f"{name}.tmp").write_bytes(envelope.encode(Message.new("JOB", body)))
    os.rename(directory / f"{name}.tmp", directory / name)


def handled(root: SpoolRoot) -> int:
    """Messages answered and removed (a batch's replies are written before its inputs go)."""
    return root.spool("pe_reply").count() if root.spool("pe").count() == 0 else -1


def test_one_worker_serves_a_lone_message_in_the_dispatcher_and_a_burst_in_the_worker(root, component):
    component(workers=1)
    drop(root, "lone")
    wait_until(lambda: handled(root) == 1, what="the lone message answered")
    assert THREADS == ["dispatcher"]
    root.spool("pe").put_many(Message.new("JOB", str(index)) for index in range(100))  # one new directory
    wait_until(lambda: handled(root) == 101, what="the burst answered")
    assert THREADS[1:] == ["0"] * 100  # listed together: queued for worker-0, claimed in groups


def test_several_workers_never_leave_the_handling_to_the_dispatcher(root, component):
    component(workers=2)
    for index in range(1, 6):
        drop(root, str(index))
        wait_until(lambda expected=index: handled(root) == expected, what="the message answered")
    assert len(THREADS) == 5 and "dispatcher" not in THREADS


def test_one_worker_never_runs_two_handlers_at_once(root, component):
    """A burst and lone messages land while the dispatcher serves one: still one handler at a time."""
    component(workers=1, sleep=0.01)
    spool = root.spool("pe")
    for round_ in range(10):
        drop(root, f"{round_}-first")  # the component is idle: the dispatcher serves it
        time.sleep(0.002)
        spool.put_many(Message.new("JOB", f"{round_}-{index}") for index in range(10))
        for index in range(3):
            drop(root, f"{round_}-lone-{index}")
            time.sleep(0.003)
        answered = 14 * (round_ + 1)
        wait_until(lambda n=answered: handled(root) == n, what="the round answered")
        time.sleep(0.02)  # the worker's last commit is told to the dispatcher: idle again
    assert _most_inside == 1
    assert THREADS.count("dispatcher") >= 5 and THREADS.count("0") >= 100  # both took part


def serving_one_slowly(root: SpoolRoot, component, **settings) -> Component:
    """A one-worker component whose dispatcher is in the middle of a slow handler call."""
    running = component(workers=1, **settings)
    drop(root, "slow")
    wait_until(lambda: THREADS, what="the handler called")
    return running


def test_drain_lets_the_message_the_dispatcher_serves_finish(root, component):
    running = serving_one_slowly(root, component, sleep=0.5)
    running.drain()
    assert running.join(10)
    assert THREADS == ["dispatcher"]
    assert handled(root) == 1


def test_stop_leaves_the_claim_the_dispatcher_serves_locked(root, component):
    running = serving_one_slowly(root, component, sleep=0.5)
    running.stop()
    assert running.join(10)
    assert THREADS == ["dispatcher"]
    (name,) = root.spool("pe").names()
    assert root.spool("pe").is_locked(name) and root.spool("pe_reply").count() == 0


def test_the_lock_of_the_message_the_dispatcher_serves_stays_fresh_while_draining(root, component):
    """The worker ends at once when drained; the dispatcher's claim must still be refreshed."""
    running = serving_one_slowly(root, component, sleep=1.5, lock_timeout=0.6)
    running.drain()
    unlocked = 0
    while running.running:  # another watcher's purge, every 50 ms, while the handler runs
        unlocked += root.spool("pe").purge(max_lock_age=0.6).unlocked
        time.sleep(0.05)
    assert unlocked == 0
    assert THREADS == ["dispatcher"] and handled(root) == 1
