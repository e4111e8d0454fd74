"""A request from a component on node A to a component on node B, and its reply, across a WAN link.

Starts its own isolated broker (spoolq/testbed/broker.py) and, per round trip,
two delay proxies (spoolq/testbed/delay_proxy.py, each in a process of its
own): node A's link and node B's, each adding half the round trip each way.
Each node is a ``spoolq run`` process with its own spool root, its two
shippers and one component:

    A/outgoing --ship--> link A --> broker --> link B --receive--> B/echo (handler echo)
    B/outgoing <--------------------------------------------------- the reply, to client@A
    A/client (benchmarks/round_trip_handler.py notes the time) <--receive-- link A <-- broker

The benchmark stands for A's component: it puts each request into A's
outgoing spool (as a component's ``emit`` to ``echo@B`` does) and reads when
the reply reached A's component.  A request crosses the link four times: the
floor is 2 x the round trip.

* latency: one request at a time, ``--requests`` of them; p50 and p99;
* throughput: ``--burst`` requests put at once, replies a second until the last.

The link alone: a ping of the same size and its echo through one delay
proxy, paced as the requests are: its nominal round trip plus what the proxy
itself costs.

The baseline, through the same two links and broker: two bare stomp.py
clients, A sending each request persistent to B's queue, B acking it and
sending the reply persistent to A's queue (no spool, no disk, no process
besides the two): the floor for the link, the broker and the proxies as they
run on this machine.

Each round trip is measured twice: with each node a ``spoolq run`` process
(its shippers and watchers processes of their own, as deployed), and with
both nodes' shippers and components as threads of this one process.  The
second has the same path through spools, inotify, the proxies and the broker,
but wakes 2 processes instead of 10 along it: on a busy machine the gap
between the two is the time the kernel takes to schedule processes.

Target: p50 <= 2 x RTT + 5 ms.

    python benchmarks/bench_round_trip.py [--rtts 0,10] [--requests 200] [--burst 2000]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import stomp

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS.parent))

from spoolq.message import Message  # noqa: E402
from spoolq.testbed.broker import Broker  # noqa: E402
from spoolq.testbed.daemons import Daemon  # noqa: E402
from spoolq.testbed.proxy_process import ProxyProcess  # noqa: E402
from spoolq.testbed.shipping import root_of, unique, write_node_config  # noqa: E402

BUSY_WAIT = 0.0003  # seconds each link spends awake before a chunk is due (delay_proxy)


class Replies:
    """The arrival times node A's component noted, read as the file grows."""

    def __init__(self, path: Path):
        self.path = path
        self.seen: dict[str, float] = {}
        self._offset = 0

    def read(self) -> None:
        with contextlib.suppress(FileNotFoundError), open(self.path, "rb") as f:
            f.seek(self._offset)
            data = f.read()
            complete = data[: data.rfind(b"\n") + 1]
            self._offset += len(complete)
            for line in complete.decode().splitlines():
                correlation, at = line.split()
                self.seen[correlation] = float(at)

    def wait_for(self, ids: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.read()
            if all(i in self.seen for i in ids):
                return
            if time.monotonic() > deadline:
                missing = sum(i not in self.seen for i in ids)
                raise RuntimeError(f"{missing} of {len(ids)} replies missing after {timeout:g} s")
            time.sleep(0.0005)


def node(work: Path, name: str, broker: Broker, port: int, component: str = "") -> Path:
    beats = "heartbeat_send_ms = 10000\nheartbeat_recv_ms = 10000\n"
    return write_node_config(
        work / name, name, broker, hosts=[f"127.0.0.1:{port}"], top_extra=component, broker_extra=beats
    )


@contextlib.contextmanager
def link(target_port: int, rtt: float):
    """A delay proxy adding ``rtt`` ms a round trip; at 0, the target's own port (no proxy).

    Kept on time (``busy_wait``): an idle proxy woke each chunk 0.2-0.4 ms late,
    four times a request, which is the proxy's cost, not the link's nor spoolq's.
    """
    if rtt == 0:
        yield target_port
        return
    with ProxyProcess(target_port, rtt / 2000, busy_wait=BUSY_WAIT) as proxy:
        yield proxy.port


class _EchoServer(threading.Thread):
    """Echoes what each connection sends; for the link's own figure."""

    def __init__(self):
        super().__init__(name="echo", daemon=True)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]

    def run(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _address = self.listener.accept()
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                with conn, contextlib.suppress(OSError):
                    while data := conn.recv(65536):
                        conn.sendall(data)


def measure_link(rtt: float, args) -> float:
    """p50 ms of a ping and its echo through one link, paced like the requests (idle in between)."""
    echo = _EchoServer()
    echo.start()
    try:
        with link(echo.port, rtt) as port, socket.create_connection(("127.0.0.1", port)) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            ping, times = b"x" * args.size, []
            for _ in range(args.requests):
                start = time.monotonic()
                sock.sendall(ping)
                got = 0
                while got < len(ping):
                    data = sock.recv(65536)
                    if not data:
                        raise RuntimeError("the echo server closed the connection")
                    got += len(data)
                times.append(time.monotonic() - start)
                time.sleep(rtt / 1000 + 0.002)  # idle, as between requests
    finally:
        echo.listener.close()
    return statistics.median(times) * 1000


class _Inbox(stomp.ConnectionListener):
    """The bare clients' listener: acks each message, notes when it came, and answers it when asked."""

    def __init__(self, conn, answer_to: str | None):
        self.conn, self.answer_to = conn, answer_to
        self.arrived: dict[str, float] = {}
        self.changed = threading.Condition()

    def on_message(self, frame) -> None:
        now = time.monotonic()
        self.conn.ack(frame.headers["ack"])
        if self.answer_to is not None:
            headers = {"persistent": "true", "n": frame.headers["n"]}
            self.conn.send(self.answer_to, frame.body, headers=headers)
        with self.changed:
            self.arrived[frame.headers["n"]] = now
            self.changed.notify_all()


def measure_bare(broker: Broker, rtt: float, args) -> dict[str, float]:
    """Request and reply between two bare stomp.py clients, through the same kind of links."""
    queue_a, queue_b = f"/queue/{unique('bare-a')}", f"/queue/{unique('bare-b')}"
    with link(broker.stomp_port, rtt) as port_a, link(broker.stomp_port, rtt) as port_b:
        clients = []
        for port, queue, answer_to in ((port_a, queue_a, None), (port_b, queue_b, queue_a)):
            conn = stomp.Connection12([("127.0.0.1", port)], auto_decode=False, vhost="/")
            inbox = _Inbox(conn, answer_to)
            conn.set_listener("bench", inbox)
            conn.connect(broker.user, broker.passcode, wait=True)
            # B's ack and reply are two writes in a row: without this, Nagle holds the second
            # until the broker's delayed ACK of the first, 40 ms (spoolq writes a batch at once).
            conn.transport.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.subscribe(queue, id="1", ack="client-individual", headers={"prefetch-count": "100"})
            clients.append((conn, inbox))
        (conn_a, inbox_a), _b = clients
        latencies = []
        try:
            for n in range(10 + args.requests):
                sent = time.monotonic()
                conn_a.send(queue_b, b"x" * args.size, headers={"persistent": "true", "n": str(n)})
                with inbox_a.changed:
                    if not inbox_a.changed.wait_for(lambda n=n: str(n) in inbox_a.arrived, 60):
                        raise RuntimeError(f"no bare reply to request {n} in 60 s")
                if n >= 10:  # the first ten warm up
                    latencies.append(inbox_a.arrived[str(n)] - sent)
        finally:
            for conn, _inbox in clients:
                conn.disconnect()
    for queue in (queue_a, queue_b):
        broker.delete_queue(queue.removeprefix("/queue/"))
    latencies.sort()
    return {"p50": statistics.median(latencies) * 1000, "p99": percentile(latencies, 0.99) * 1000}


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(broker: Broker, work: Path, rtt: float, args) -> dict[str, float]:
    """Both nodes as ``spoolq run`` processes."""
    a, b = unique("a"), unique("b")
    replies_log = work / f"replies-{a}.log"
    paths = [str(BENCHMARKS), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    with link(broker.stomp_port, rtt) as port_a, link(broker.stomp_port, rtt) as port_b:
        config_a = node(
            work, a, broker, port_a,
            f'[components.client]\nhandler = "round_trip_handler:arrived"\n'
            f'[components.client.options]\nlog = "{replies_log}"\n',
        )  # fmt: skip
        config_b = node(work, b, broker, port_b, '[components.echo]\nhandler = "echo"\n')
        daemons = [
            Daemon(name, ["-c", str(config), "run"], config.parent / "run.log", env)
            for name, config in (("a", config_a), ("b", config_b))
        ]
        try:
            for daemon in daemons:
                daemon.start()
            return exchange(root_of(config_a).spool("outgoing"), Replies(replies_log), a, b, args)
        finally:
            for daemon in daemons:
                daemon.stop()


def measure_in_threads(broker: Broker, work: Path, rtt: float, args) -> dict[str, float]:
    """Both nodes' shippers and components as threads of this process."""
    from round_trip_handler import arrived

    from spoolq.component import Component
    from spoolq.config import ComponentConfig
    from spoolq.testbed.shipping import running

    a, b = unique("a"), unique("b")
    replies_log = work / f"replies-{a}.log"
    with link(broker.stomp_port, rtt) as port_a, link(broker.stomp_port, rtt) as port_b:
        config_a, config_b = node(work, a, broker, port_a), node(work, b, broker, port_b)
        components = [
            Component(ComponentConfig(name="echo", spool="echo", handler="echo"), root_of(config_b), node=b),
            Component(
                ComponentConfig(
                    name="client", spool="client", handler=f"{arrived.__module__}:arrived",
                    options={"log": str(replies_log)},
                ),
                root_of(config_a),
                node=a,
            ),
        ]  # fmt: skip
        for component in components:
            component.start()
            component.ready.wait(30)
        try:
            with running(config_a, "out", "in"), running(config_b, "out", "in"):
                return exchange(root_of(config_a).spool("outgoing"), Replies(replies_log), a, b, args)
        finally:
            for component in components:
                component.drain()
                component.join(30)


def exchange(outgoing, replies: Replies, a: str, b: str, args) -> dict[str, float]:
    """Warm up, then requests one at a time (latency), then a burst (throughput)."""

    def request() -> Message:
        return Message.new("ping", "x" * args.size, to=f"echo@{b}", reply_to=f"client@{a}")

    warm = [request() for _ in range(10)]
    outgoing.put_many(warm)
    replies.wait_for([m.message_id for m in warm], 120)
    latencies = []
    for _ in range(args.requests):
        message = request()
        sent = time.monotonic()
        outgoing.put(message)
        replies.wait_for([message.message_id], 60)
        latencies.append(replies.seen[message.message_id] - sent)
    burst = [request() for _ in range(args.burst)]
    start = time.monotonic()
    outgoing.put_many(burst)
    replies.wait_for([m.message_id for m in burst], 300)
    elapsed = max(replies.seen[m.message_id] for m in burst) - start
    latencies.sort()
    return {
        "p50": statistics.median(latencies) * 1000,
        "p99": percentile(latencies, 0.99) * 1000,
        "rate": args.burst / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtts", default="0,10", help="round trips in ms, comma-separated")
    parser.add_argument("--requests", type=int, default=200, help="one at a time, for the latencies")
    parser.add_argument("--burst", type=int, default=2000, help="put at once, for the throughput")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--spool-dir", default=None, help="where the spool roots go (default: /dev/shm)")
    args = parser.parse_args()
    os.environ.setdefault("SPOOLQ_TEST_PASSCODE", "guest")
    results = []
    spools = args.spool_dir or ("/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir())
    with (
        tempfile.TemporaryDirectory(prefix="bench-round-trip-") as scratch,
        tempfile.TemporaryDirectory(prefix="bench-round-trip-spools-", dir=spools) as spool_dir,
    ):
        args.spool_dir = spool_dir
        broker = Broker(Path(scratch) / "rabbitmq")
        broker.start()
        try:
            for rtt in (float(r) for r in args.rtts.split(",")):
                results.append((rtt, "link", {"p50": measure_link(rtt, args)}))
                results.append((rtt, "bare", measure_bare(broker, rtt, args)))
                results.append((rtt, "processes", measure(broker, Path(args.spool_dir), rtt, args)))
                results.append((rtt, "threads", measure_in_threads(broker, Path(args.spool_dir), rtt, args)))
        finally:
            broker.close()
    print(f"request and reply across two nodes, bodies of {args.size} bytes; {args.requests} one at a time,"
          f" then {args.burst} at once; spools in {spools}")  # fmt: skip
    for rtt, how, r in results:
        target = 2 * rtt + 5
        if how == "link":
            print(f"  RTT {rtt:4g} ms, one link alone        : p50 {r['p50']:7.2f} ms a ping and its echo")
            continue
        if how == "bare":
            print(f"  RTT {rtt:4g} ms, bare stomp.py clients: p50 {r['p50']:7.1f} ms, p99 {r['p99']:7.1f} ms")
            continue
        verdict = "met" if r["p50"] <= target else "MISSED"
        print(f"  RTT {rtt:4g} ms, nodes as {how:9}  : p50 {r['p50']:7.1f} ms, p99 {r['p99']:7.1f} ms"
              f" (target p50 <= {target:g} ms: {verdict}); {r['rate']:6.0f} requests/s")  # fmt: skip


if __name__ == "__main__":
    main()
