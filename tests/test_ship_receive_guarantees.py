"""What ``spoolq receive`` promises about acks, duplicates and stopping, through the real broker.

A write that fails acks nothing of its batch nor of any later one, and
everything arrives once the disk takes writes again; duplicates are dropped
within a batch and across batches, the order kept; a receiver stopped in the
middle of a stream has acked only what it wrote and leaves no thread behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess

import pytest

from spoolq import envelope
from spoolq.message import Message
from spoolq.shippers.link import Link
from spoolq.shippers.stomp import SPOOLQ_ID
from spoolq.testbed.shipping import publish, root_of, running, unique, write_node_config
from tests.brokers import EACH_BROKER
from tests.waiting import wait_until


def publish_messages(broker, queue: str, messages: list[Message], copies: int = 1) -> None:
    """Send each message ``copies`` times in a row (same ``spoolq-id``), persistent, confirmed."""
    frames = ((envelope.encode(m), {SPOOLQ_ID: m.message_id}) for m in messages for _ in range(copies))
    publish(broker, queue, frames)


def bodies_in_order(spool) -> list[str]:
    return [spool.get(name).payload() for name in spool.names()]


def each_once(spool, count: int) -> bool:
    """Whether the spool holds messages "0" .. "count-1", each exactly once (in any order:
    the broker requeues what a lost consumer held, not always at its old place)."""
    return sorted(int(body) for body in bodies_in_order(spool)) == list(range(count))


def numbered(node: str, count: int) -> list[Message]:
    return [Message.new("x", str(n), to=f"md@{node}") for n in range(count)]


def queued_node(broker, tmp_path, count: int, copies: int = 1):
    """A receiving node with ``count`` numbered messages waiting for it (each ``copies`` times):
    its configuration, its broker queue, the messages and its ``md`` spool (made before any
    message arrives)."""
    node = unique("b")
    config = write_node_config(tmp_path, node, broker)
    md = root_of(config).spool("md")
    queue = f"spoolq-test.{node}"
    sent = numbered(node, count)
    publish_messages(broker, f"/queue/{queue}", sent, copies)
    return config, queue, sent, md


@contextlib.contextmanager
def unwritable(directory):
    """No new entry can be made in ``directory`` (as root: immutable; else: read-only mode)."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(directory)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(directory)], check=True)
    else:
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(0o755)


@EACH_BROKER
@pytest.mark.timeout(120)
def test_a_failed_write_acks_nothing_of_its_batch_nor_later_ones_and_all_arrive_after(broker, tmp_path):
    # Three prefetches' worth: several batches behind the failed one.
    config, queue, _sent, md = queued_node(broker, tmp_path, 600)
    with unwritable(md.path), running(config, "in") as (receiver,):
        wait_until(lambda: receiver.status.reconnects >= 2, 30, "the receiver reconnecting after failures")
        assert "write failed, not acked" in receiver.status.last_error
        assert receiver.status.done == 0 and md.count() == 0
        assert broker.queue_depth(queue) == 600  # nothing acked, not even later batches
        receiver.stop()
    with running(config, "in") as (receiver,):
        wait_until(lambda: receiver.status.done == 600, 60, "all 600 after the disk recovered")
        wait_until(lambda: broker.queue_depth(queue) == 0, 30, "all acked")
    assert each_once(md, 600)


@EACH_BROKER
@pytest.mark.timeout(120)
def test_duplicates_are_dropped_within_and_across_batches_and_the_order_is_kept(broker, tmp_path):
    # Each message twice in a row: a copy lands in the same batch as its original, or in
    # the next one, after the original was recorded.
    config, queue, sent, md = queued_node(broker, tmp_path, 1500, copies=2)
    with running(config, "in") as (receiver,):
        wait_until(lambda: receiver.status.done + receiver.status.duplicates == 3000, 60, "3000 handled")
        wait_until(lambda: broker.queue_depth(queue) == 0, 30, "duplicates acked too")
        assert (receiver.status.done, receiver.status.duplicates, receiver.status.parked) == (1500, 1500, 0)
    assert bodies_in_order(md) == [str(n) for n in range(1500)]
    assert {md.get(name).message_id for name in md.names()} == {m.message_id for m in sent}


@EACH_BROKER
@pytest.mark.timeout(120)
def test_stopping_in_the_middle_of_a_stream_acks_only_what_was_written(broker, tmp_path):
    config, queue, _sent, md = queued_node(broker, tmp_path, 3000)
    with running(config, "in") as (receiver,):
        wait_until(lambda: receiver.status.done > 0, 30, "the first batch written")
        receiver.stop()  # frames are queued and unacked now
    # running() joined the receiver; the autouse fixture fails the test if a thread lingers.
    acked = 3000 - broker.queue_depth(queue)
    assert receiver.status.done == acked  # each acked message was written, and counted once
    assert acked <= md.count() < 3000  # written and not acked: redelivered, dropped as a duplicate
    with running(config, "in") as (receiver,):
        wait_until(lambda: broker.queue_depth(queue) == 0, 60, "the rest")
    assert each_once(md, 3000)


def cut_before_the_first_ack(monkeypatch) -> list[int]:
    """The connection goes down between the first batch's write and its ack, as when the broker stops.

    The socket is shut down under the first ``ack_many``, so the ack fails
    for real (``BrokenPipeError`` in stomp.py's transport); later acks run as
    usual. Returns the sizes of the batches whose ack was cut.
    """
    cut: list[int] = []
    ack_many = Link.ack_many

    def ack_many_after_a_cut(link, ack_ids):
        if not cut:
            cut.append(len(ack_ids))
            link._conn.transport.socket.shutdown(socket.SHUT_RDWR)
        return ack_many(link, ack_ids)

    monkeypatch.setattr(Link, "ack_many", ack_many_after_a_cut)
    return cut


@EACH_BROKER
@pytest.mark.timeout(120)
def test_a_batch_whose_ack_failed_is_done_once_and_its_redelivery_is_a_duplicate(
    broker, tmp_path, monkeypatch
):
    config, queue, _sent, md = queued_node(broker, tmp_path, 300)
    cut = cut_before_the_first_ack(monkeypatch)
    with running(config, "in") as (receiver,):
        wait_until(lambda: broker.queue_depth(queue) == 0, 60, "all 300 acked after the reconnect")
        status = receiver.status
        assert (status.done, status.duplicates) == (300, cut[0])  # written once; redelivered: dropped
    assert each_once(md, 300)


@pytest.mark.timeout(120)
def test_an_ack_that_fails_as_the_broker_goes_away_leaves_no_traceback(broker, tmp_path, monkeypatch, caplog):
    config, queue, _sent, md = queued_node(broker, tmp_path, 50)
    cut_before_the_first_ack(monkeypatch)
    caplog.set_level(logging.INFO)
    with running(config, "in") as (receiver,):
        wait_until(lambda: broker.queue_depth(queue) == 0, 60, "all 50 acked after the reconnect")
        assert receiver.status.reconnects >= 1
    assert each_once(md, 50)
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert not tracebacks, [f"{r.name}: {r.getMessage()}" for r in tracebacks]
    said = [r.getMessage() for r in caplog.records if r.name == "spoolq.shippers"]
    assert any("lost; retrying" in line for line in said), said  # spoolq's own line says what happened
