"""The senders and receivers the shipping benchmarks race: bare stomp.py loops and spoolq's shippers.

Each contender connects to ``port`` on 127.0.0.1: the broker's own STOMP port,
or a delay proxy in front of it (:mod:`spoolq.testbed.delay_proxy`), and
returns its rate in messages a second, counted from the moment it is connected.
Every sender writes into a fresh queue, deleted after its run: a queue that
holds the messages of earlier runs makes the broker slower, and so would
favour whichever contender ran first.

* :func:`one_at_a_time`: send, wait for the receipt, next (APEL SSM's way), in
  its strictest form: woken the moment the receipt arrives, no spool work;
* :func:`bare_pipelined`: a stomp.py loop with ``window`` receipts outstanding;
* :func:`spoolq_ship`: a StompShipper draining an outgoing spool;
* :func:`bare_consume`: client-individual, ack each, nothing written;
* :func:`spoolq_receive`: a StompReceiver writing every message durably, then acking.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import stomp

from spoolq.message import Message
from spoolq.shippers.frame_mapping import to_frame
from spoolq.testbed.shipping import Receipts, publish, root_of, running, write_node_config


class Counter(Receipts):
    """Receipts, and messages consumed (each acked): the bare loops' one listener."""

    def __init__(self, conn=None):
        super().__init__()
        self.conn = conn

    def on_message(self, frame):
        self.conn.ack(frame.headers["ack"])
        with self.changed:
            self.count += 1
            self.changed.notify_all()


def connect(broker, port: int, listener_factory):
    conn = stomp.Connection12([("127.0.0.1", port)], auto_decode=False, vhost="/")
    listener = listener_factory(conn)
    conn.set_listener("bench", listener)
    conn.connect(broker.user, broker.passcode, wait=True)
    return conn, listener


def fresh_queue() -> str:
    return f"bench-{uuid.uuid4().hex[:6]}"


def one_at_a_time(broker, count: int, body: bytes, port: int | None = None) -> float:
    conn, listener = connect(broker, port or broker.stomp_port, lambda c: Counter())
    queue = fresh_queue()
    start = time.perf_counter()
    for n in range(count):
        conn.send(f"/queue/{queue}", body, headers={"persistent": "true", "receipt": str(n)})
        listener.wait_for(n + 1)
    elapsed = time.perf_counter() - start
    conn.disconnect()
    broker.delete_queue(queue)
    return count / elapsed


def bare_pipelined(broker, count: int, body: bytes, window: int, port: int | None = None) -> float:
    conn, listener = connect(broker, port or broker.stomp_port, lambda c: Counter())
    queue = fresh_queue()
    start = time.perf_counter()
    for n in range(count):
        if n - listener.count >= window:
            listener.wait_for(n - window + 1)
        conn.send(f"/queue/{queue}", body, headers={"persistent": "true", "receipt": str(n)})
    listener.wait_for(count)
    elapsed = time.perf_counter() - start
    conn.disconnect()
    broker.delete_queue(queue)
    return count / elapsed


def fill_queue(broker, queue: str, messages: list[bytes], window: int) -> None:
    """Put ``messages`` into ``/queue/QUEUE`` straight through the broker's own port."""
    publish(broker, queue, ((data, {"spoolq-id": str(n)}) for n, data in enumerate(messages)), window)


def bare_consume(broker, count: int, body: bytes, window: int, port: int | None = None) -> float:
    queue = f"/queue/{fresh_queue()}"
    fill_queue(broker, queue, [body] * count, window)
    conn, listener = connect(broker, port or broker.stomp_port, Counter)
    start = time.perf_counter()
    conn.subscribe(queue, id="1", ack="client-individual", headers={"prefetch-count": str(window)})
    listener.wait_for(count)
    elapsed = time.perf_counter() - start
    conn.disconnect()
    broker.delete_queue(queue.removeprefix("/queue/"))
    return count / elapsed


def clock_once_connected(shipper) -> float:
    """The time at which ``shipper`` is connected: its clock starts there, as the bare loops'
    start once theirs is (loading the configuration and connecting are not the rate measured)."""
    deadline = time.monotonic() + 30
    while shipper.status.state != "connected":
        if time.monotonic() > deadline:
            raise RuntimeError(f"shipper not connected: {shipper.status.last_error}")
        time.sleep(0.0005)
    return time.perf_counter()


def node_through(work: Path, node: str, broker, port: int | None, **extra) -> Path:
    """A node's configuration whose shippers reach the broker through ``port`` (its own by default)."""
    hosts = [f"127.0.0.1:{port or broker.stomp_port}"]
    return write_node_config(work / f"{node}-{uuid.uuid4().hex[:6]}", node, broker, hosts=hosts, **extra)


def spoolq_ship(
    broker, work: Path, count: int, size: int, window: int | str, port: int | None = None
) -> float:
    """``window``: a number, or ``"auto"``."""
    config = node_through(work, "bench-a", broker, port)
    setting = f'"{window}"' if isinstance(window, str) else str(window)
    config.write_text(config.read_text().replace("window = 200", f"window = {setting}"))
    outgoing = root_of(config).spool("outgoing")
    sink = f"sink-{uuid.uuid4().hex[:6]}"  # a fresh queue, as the bare loops have
    outgoing.put_many(Message.new("b", "x" * size, to=f"md@{sink}") for _ in range(count))
    with running(config, "out") as (shipper,):
        start = clock_once_connected(shipper)
        while shipper.status.done < count:  # counted in memory: no listing steals CPU
            time.sleep(0.005)
        elapsed = time.perf_counter() - start
    assert outgoing.count() == 0
    broker.delete_queue(f"spoolq-test.{sink}")
    return count / elapsed


def spoolq_receive(broker, work: Path, count: int, size: int, window: int, port: int | None = None) -> float:
    node = f"bench-{uuid.uuid4().hex[:6]}"
    config = node_through(work, node, broker, port)
    config.write_text(config.read_text().replace("prefetch = 200", f"prefetch = {window}"))
    body, headers = to_frame(Message.new("b", "x" * size, to=f"md@{node}"))  # as a spoolq sender sends it
    frames = ((body, {**headers, "spoolq-id": str(n)}) for n in range(count))
    publish(broker, f"/queue/spoolq-test.{node}", frames, window)
    md = root_of(config).spool("md")
    with running(config, "in") as (receiver,):
        start = clock_once_connected(receiver)
        while receiver.status.done < count:
            time.sleep(0.005)
        elapsed = time.perf_counter() - start
    assert md.count() == count
    broker.delete_queue(f"spoolq-test.{node}")
    return count / elapsed
