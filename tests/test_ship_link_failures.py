"""A WAN link that fails under a transfer: cut for 30 s, or silent for 30 s.

Both nodes reach the broker through their own delay proxy
(:mod:`spoolq.testbed.delay_proxy`), 10 ms round trip, and both links fail at
once while messages keep arriving in the sender's outgoing spool.  Everything
put must arrive once; the loss must be noticed (a silent link only by its
heartbeats, 2 s here) and delivery must resume soon after the link is back.
What the test asserts on is recorded as it happens: a sampler thread notes
each shipper's state and the receiving spool's count, with the time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import pytest

from spoolq.message import Message
from spoolq.testbed.delay_proxy import DelayProxy
from spoolq.testbed.shipping import root_of, running, unique, write_node_config
from tests.waiting import wait_until

OUTAGE = 30.0  # seconds the link is down
HEARTBEAT = 2.0  # seconds: heartbeat_send_ms and heartbeat_recv_ms
ONE_WAY = 0.005  # 10 ms round trip
SLACK = 1.0  # seconds allowed on top of a bound, for a busy shared machine
BATCH, BATCHES, PACE = 10, 400, 0.1  # the feeder: 10 messages every 0.1 s, 40 s in all


@dataclass
class Sample:
    at: float
    received: int
    sender: str
    receiver: str


class Sampler(threading.Thread):
    """Notes, every 20 ms, how many messages the receiving spool holds and both shippers' states."""

    def __init__(self, md, sender, receiver):
        super().__init__(name="link-failure-sampler")
        self.md, self.sender, self.receiver = md, sender, receiver
        self.samples: list[Sample] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            states = self.sender.status.state, self.receiver.status.state
            self.samples.append(Sample(time.monotonic(), self.md.count(), *states))

    def first(self, after: float, condition) -> float | None:
        """Seconds from ``after`` to the first sample after it that meets ``condition``."""
        for sample in self.samples:
            if sample.at >= after and condition(sample):
                return sample.at - after
        return None


class Feeder(threading.Thread):
    """Puts ``BATCH`` messages into the outgoing spool every ``PACE`` seconds, ``BATCHES`` times."""

    def __init__(self, outgoing, node: str):
        super().__init__(name="link-failure-feeder")
        self.outgoing, self.node = outgoing, node
        self.ids: list[str] = []
        self.stopped = threading.Event()

    def run(self) -> None:
        for batch in range(BATCHES):
            if self.stopped.wait(PACE):
                return
            messages = [Message.new("wan", f"{batch}.{n}", to=f"md@{self.node}") for n in range(BATCH)]
            self.outgoing.put_many(messages)
            self.ids.extend(m.message_id for m in messages)


def fail_link(kind: str, links: list[DelayProxy]) -> None:
    for link in links:
        link.cut() if kind == "cut" else link.silence()


def mend_link(kind: str, links: list[DelayProxy]) -> None:
    for link in links:
        link.restore() if kind == "cut" else link.unsilence()


@pytest.mark.timeout(240)
@pytest.mark.parametrize("kind", ["cut", "silence"])
def test_a_link_down_for_30_s_mid_transfer_loses_nothing_doubles_nothing_and_resumes_at_once(
    broker, tmp_path, kind
):
    beats = f"heartbeat_send_ms = {HEARTBEAT * 1000:.0f}\nheartbeat_recv_ms = {HEARTBEAT * 1000:.0f}\n"
    with (
        DelayProxy(broker.stomp_port, ONE_WAY) as link_a,
        DelayProxy(broker.stomp_port, ONE_WAY) as link_b,
    ):
        node_b = unique("b")
        sender = write_node_config(
            tmp_path / "a", unique("a"), broker, hosts=[f"127.0.0.1:{link_a.port}"], broker_extra=beats
        )
        receiver = write_node_config(
            tmp_path / "b", node_b, broker, hosts=[f"127.0.0.1:{link_b.port}"], broker_extra=beats
        )
        outgoing, md = root_of(sender).spool("outgoing"), root_of(receiver).spool("md")
        feeder = Feeder(outgoing, node_b)
        with running(sender, "out") as (out,), running(receiver, "in") as (inbound,):
            sampler = Sampler(md, out, inbound)
            sampler.start()
            feeder.start()
            try:
                wait_until(lambda: md.count() >= 100, 60, "the transfer under way")
                failed_at = time.monotonic()
                fail_link(kind, [link_a, link_b])
                time.sleep(OUTAGE)
                at_outage_end = md.count()
                mended_at = time.monotonic()
                mend_link(kind, [link_a, link_b])
                feeder.join(BATCHES * PACE + 60)
                everything = lambda: md.count() >= len(feeder.ids) and outgoing.count() == 0  # noqa: E731
                wait_until(everything, 120, "all delivered")
                time.sleep(2 * HEARTBEAT)  # a late resend would land now: it must be dropped
            finally:
                feeder.stopped.set()
                sampler.done.set()
                sampler.join(10)
                feeder.join(10)

    assert not feeder.is_alive() and len(feeder.ids) == BATCH * BATCHES
    received = [md.get(name).message_id for name in md.names()]
    assert sorted(received) == sorted(feeder.ids), "lost or doubled at the receiving spool"

    sender_noticed = sampler.first(failed_at, lambda s: s.sender != "connected")
    receiver_noticed = sampler.first(failed_at, lambda s: s.receiver != "connected")
    resumed = sampler.first(mended_at, lambda s: s.received > at_outage_end)
    print(f"{kind}: noticed by the sender after {sender_noticed} s, the receiver after {receiver_noticed} s;"
          f" delivery resumed {resumed} s after the link came back")  # fmt: skip
    assert sender_noticed is not None and sender_noticed <= 2 * HEARTBEAT + SLACK
    assert receiver_noticed is not None and receiver_noticed <= 2 * HEARTBEAT + SLACK
    assert resumed is not None and resumed <= 2 * HEARTBEAT + SLACK
    assert out.status.reconnects >= 1 and inbound.status.reconnects >= 1


@pytest.mark.timeout(120)
def test_a_link_silent_from_its_first_second_is_noticed_within_two_heartbeats(broker, tmp_path):
    """stomp.py waits 1.5 heart-beats before it even starts to count: without care that is 3."""
    beats = f"heartbeat_send_ms = {HEARTBEAT * 1000:.0f}\nheartbeat_recv_ms = {HEARTBEAT * 1000:.0f}\n"
    with DelayProxy(broker.stomp_port, ONE_WAY) as link:
        config = write_node_config(
            tmp_path / "a", unique("a"), broker, hosts=[f"127.0.0.1:{link.port}"], broker_extra=beats
        )
        with running(config, "out", "in") as shippers:
            wait_until(lambda: all(s.status.state == "connected" for s in shippers), 60, "both connected")
            silent_at = time.monotonic()
            link.silence()
            noticed = {}
            while len(noticed) < len(shippers) and time.monotonic() - silent_at < 4 * HEARTBEAT:
                for shipper in shippers:
                    if shipper.status.state != "connected":
                        noticed.setdefault(shipper.kind, time.monotonic() - silent_at)
                time.sleep(0.01)
            link.unsilence()
    print(f"silent from the start: noticed after {noticed}")
    assert set(noticed) == {"ship", "receive"}, f"not noticed in {4 * HEARTBEAT:g} s: {noticed}"
    assert max(noticed.values()) <= 2 * HEARTBEAT + 0.5
