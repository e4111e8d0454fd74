"""A message that comes alone is passed on by the thread that has it, not handed to a sleeping loop.

A request and its reply cross a shipper and a receiver on each node.  Handing
each to the shipper's or the receiver's sleeping loop cost a thread's wake-up
on its way (``benchmarks/bench_round_trip.py``): the claimer's thread, which
has just read the message, sends it; stomp.py's reader thread, which has just
read the frame, writes it.  Messages that come together still go through the
loops, many to a write and a sync.
"""

from __future__ import annotations

import threading
import time

import pytest

from spoolq.message import Message
from spoolq.shippers.link import Link
from spoolq.shippers.receiver import StompReceiver
from spoolq.testbed.shipping import root_of, running, sender_and_receiver
from tests.waiting import wait_until


class Threads:
    """Which thread made each call of the methods watched, and with how many items."""

    def __init__(self, monkeypatch):
        self.monkeypatch = monkeypatch
        self.calls: list[tuple[str, str, int]] = []  # (what, thread name, items)
        self._lock = threading.Lock()

    def watch(self, cls, method: str, items_at: int) -> None:
        original = getattr(cls, method)

        def watched(*args, **kwargs):
            with self._lock:
                self.calls.append((method, threading.current_thread().name, len(args[items_at])))
            return original(*args, **kwargs)

        self.monkeypatch.setattr(cls, method, watched)

    def of(self, method: str) -> list[tuple[str, int]]:
        with self._lock:
            return [(thread, items) for what, thread, items in self.calls if what == method]


@pytest.fixture
def threads(monkeypatch):
    threads = Threads(monkeypatch)
    threads.watch(Link, "send_many", 1)  # (self, frames)
    threads.watch(StompReceiver, "_receive", 2)  # (self, link, frames)
    return threads


@pytest.mark.timeout(120)
def test_a_lone_message_is_sent_by_the_claimer_and_written_by_the_reader(broker, tmp_path, threads):
    sender, receiver, node_b = sender_and_receiver(tmp_path, broker)
    outgoing, md = root_of(sender).spool("outgoing"), root_of(receiver).spool("md")
    with running(sender, "out"), running(receiver, "in"):
        for n in range(1, 4):  # the first may come before the loops sleep; the others come alone
            outgoing.put(Message.new("ping", {"n": n}, to=f"md@{node_b}"))
            wait_until(lambda n=n: md.count() == n, what=f"{n} messages in md")
            time.sleep(0.3)  # both loops asleep again
    sends, writes = threads.of("send_many")[1:], threads.of("_receive")[1:]
    assert [thread for thread, _items in sends] == ["shipper-out-claimer"] * 2
    assert len(writes) == 2
    assert all(thread != "shipper-in" for thread, _items in writes)  # not the receiver's loop
    assert root_of(sender).spool("outgoing").count() == 0  # receipted and removed all the same


@pytest.mark.timeout(180)
def test_messages_that_come_together_go_through_the_loops_in_batches(broker, tmp_path, threads):
    sender, receiver, node_b = sender_and_receiver(tmp_path, broker)
    outgoing, md = root_of(sender).spool("outgoing"), root_of(receiver).spool("md")
    count = 600
    with running(receiver, "in"):
        outgoing.put_many([Message.new("ping", {"n": n}, to=f"md@{node_b}") for n in range(count)])
        with running(sender, "out"):
            wait_until(lambda: md.count() == count, what=f"{count} messages in md", timeout=150)
    sends, writes = threads.of("send_many"), threads.of("_receive")
    assert sum(items for _thread, items in sends) == count
    assert sum(items for _thread, items in writes) == count
    # Sent and written many at a time: one write and one sync for many messages, not one each.
    assert len(sends) <= count // 4, sends
    assert len(writes) <= count // 4, writes
