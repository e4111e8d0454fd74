"""Shipper set-up for tests and benchmarks: node configurations, shippers in threads, a plain
publisher and a plain consumer (as any STOMP program), and queues declared ahead of a peer."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterable
from pathlib import Path

import stomp

from spoolq.shippers import build_shipper
from spoolq.shippers.config import load_shipping
from spoolq.spool import SpoolRoot


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def write_node_config(
    directory: Path,
    node: str,
    broker,
    *,
    hosts=None,
    broker_extra="",
    destination_extra="",
    ship_extra="",
    receive_extra="",
    top_extra="",
) -> Path:
    """A spool root and a configuration for ``node``: shippers "out" and "in"."""
    directory.mkdir(parents=True, exist_ok=True)
    hosts = hosts or [f"127.0.0.1:{broker.stomp_port}"]
    host_list = ", ".join(f'"{h}"' for h in hosts)
    path = directory / "spoolq.toml"
    path.write_text(
        f"""root = "root"
node = "{node}"
{top_extra}
[brokers.main]
hosts = [{host_list}]
username = "guest"
passcode_env = "SPOOLQ_TEST_PASSCODE"
vhost = "/"
connect_timeout = 5
{broker_extra}
[destinations.nodes]
broker = "main"
address = "/queue/spoolq-test.{{node}}"
prefetch = 200
{destination_extra}
[shippers.out]
kind = "ship"
destination = "nodes"
spool = "outgoing"
window = 200
receipt_timeout = 10
backoff_max = 1
{ship_extra}
[shippers.in]
kind = "receive"
destination = "nodes"
spool = "incoming"
backoff_max = 1
{receive_extra}
"""
    )
    return path


def root_of(config_path: Path) -> SpoolRoot:
    return SpoolRoot(config_path.parent / "root")


def sender_and_receiver(directory: Path, broker) -> tuple[Path, Path, str]:
    """Two nodes' configurations under ``directory``: a sender's, a receiver's, the receiver's node."""
    node_b = unique("b")
    sender = write_node_config(directory / "a", unique("a"), broker)
    receiver = write_node_config(directory / "b", node_b, broker)
    return sender, receiver, node_b


@contextlib.contextmanager
def running(config_path: Path, *names: str, **options):
    """Run the named shippers of a node in threads; stop and join them on exit.

    ``options`` go to :func:`build_shipper` (``metrics_interval``, say).
    """
    shipping = load_shipping(str(config_path))
    root = root_of(config_path)
    shippers = [build_shipper(root, shipping, name, **options) for name in names]
    threads = [threading.Thread(target=s.run, name=f"shipper-{s.config.name}") for s in shippers]
    for thread in threads:
        thread.start()
    try:
        yield shippers
    finally:
        for shipper in shippers:
            shipper.stop()
        for thread in threads:
            thread.join(60)


class Receipts(stomp.ConnectionListener):
    """Counts the RECEIPT frames of one connection; :meth:`wait_for` waits for a number of them."""

    def __init__(self):
        self.count = 0
        self.changed = threading.Condition()

    def on_receipt(self, frame) -> None:
        with self.changed:
            self.count += 1
            self.changed.notify_all()

    def wait_for(self, n: int, timeout: float = 300) -> None:
        with self.changed:
            if not self.changed.wait_for(lambda: self.count >= n, timeout):
                raise RuntimeError(f"only {self.count} of {n} counted after {timeout} s")


def publish(
    broker, destination: str, frames: Iterable[tuple[bytes, dict[str, str]]], window: int = 200
) -> int:
    """Send each ``(body, headers)`` persistent with a receipt, at most ``window`` unconfirmed;
    return the number sent once the broker has confirmed them all (as a bare stomp.py client)."""
    conn = stomp.Connection12([("127.0.0.1", broker.stomp_port)], auto_decode=False, vhost="/")
    receipts = Receipts()
    conn.set_listener("publish", receipts)
    conn.connect(broker.user, broker.passcode, wait=True)
    try:
        sent = 0
        for body, headers in frames:
            if sent - receipts.count >= window:
                receipts.wait_for(sent - window + 1)
            conn.send(destination, body, headers={**headers, "persistent": "true", "receipt": str(sent)})
            sent += 1
        receipts.wait_for(sent)
        return sent
    finally:
        conn.disconnect()


class Collector(stomp.ConnectionListener):
    """Keeps each MESSAGE frame of one connection as ``(headers, body)``; acks nothing (auto mode)."""

    def __init__(self):
        self.frames: list[tuple[dict[str, str], bytes]] = []
        self.changed = threading.Condition()
        self.subscribed = threading.Event()  # the broker's receipt for the SUBSCRIBE

    @property
    def bodies(self) -> list[bytes]:
        return [body for _headers, body in self.frames]

    def on_receipt(self, frame) -> None:
        self.subscribed.set()

    def on_message(self, frame) -> None:
        with self.changed:
            self.frames.append((dict(frame.headers), frame.body))
            self.changed.notify_all()

    def wait_for(self, n: int, timeout: float) -> list[tuple[dict[str, str], bytes]]:
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.frames) >= n, timeout):
                raise RuntimeError(f"only {len(self.frames)} of {n} frames came within {timeout} s")
            return list(self.frames)


@contextlib.contextmanager
def consuming(broker, destination: str):
    """A plain stomp.py consumer of ``destination`` (as any STOMP program would be): yields its Collector.

    It yields once the broker has receipted the SUBSCRIBE: what is sent afterwards reaches it.
    """
    conn = stomp.Connection12([("127.0.0.1", broker.stomp_port)], auto_decode=False, vhost="/")
    collector = Collector()
    conn.set_listener("collect", collector)
    conn.connect(broker.user, broker.passcode, wait=True)
    try:
        conn.subscribe(destination, id="collect", ack="auto", headers={"receipt": "subscribed"})
        if not collector.subscribed.wait(10):
            raise RuntimeError(f"no receipt for the subscription to {destination} within 10 s")
        yield collector
    finally:
        conn.disconnect()


def declare_queues(broker, *names: str) -> None:
    """Make the RabbitMQ queues ``names`` exist (durable), as subscribing to ``/queue/NAME`` does.

    A peer that subscribes to ``/amq/queue/NAME`` (PanDA's message processors on RabbitMQ)
    fails until the queue exists, and a frame sent there before is dropped.
    """
    conn = stomp.Connection12([("127.0.0.1", broker.stomp_port)], vhost="/")
    conn.connect(broker.user, broker.passcode, wait=True)
    try:
        for number, name in enumerate(names):
            conn.subscribe(f"/queue/{name}", id=f"declare-{number}", ack="client-individual")
            conn.unsubscribe(id=f"declare-{number}")
    finally:
        conn.disconnect(receipt="declared")
