"""What idle shippers cost, and how soon an idle shipper sends a message put into its spool.

Starts its own isolated broker (spoolq/testbed/broker.py), then ``--shippers`` idle
``spoolq ship`` processes (one spool root each, as one per site), all connected
to it, and measures:

* their CPU over ``--seconds``, from ``/proc/PID/stat`` (utime + stime of every
  thread), as a percentage of one core, against the target of 2 % for 50 of them;
  and their context switches (every thread's, from ``/proc/PID/task/*/status``)
  per shipper and second: an idle process that is never scheduled has none;
* the latency from a (non-durable) ``put`` into an idle shipper's outgoing spool
  to the message's delivery to a plain stomp.py subscriber of its destination,
  p50 and p99, one message at a time with a pause between (so that the shipper
  is idle before each); beside it, the broker's own part: the same subscriber's
  delivery latency for a persistent message a bare stomp.py client sends.  The
  target for the shipper is that plus about the watcher's wake-up (0.13 ms).

    python benchmarks/bench_idle_ship.py [--shippers 50] [--seconds 5] [--messages 100]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import stomp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from spoolq.message import Message  # noqa: E402
from spoolq.shippers.status import shipper_rows  # noqa: E402
from spoolq.spool import SpoolRoot  # noqa: E402
from spoolq.testbed.broker import Broker  # noqa: E402
from spoolq.testbed.shipping import root_of, write_node_config  # noqa: E402

MAX_SHIPPERS = 200  # each is a Python process of ~30 MB
START_TIMEOUT = 120.0
CPU_TARGET = 2.0  # % of one core, for 50 idle shippers
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def context_switches(pid: int) -> int:
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            for line in (task / "status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue  # a thread that ended meanwhile
    return total


class Arrivals(stomp.ConnectionListener):
    """The time each message arrives at the subscriber, by its ``n`` header."""

    def __init__(self):
        self.at: dict[str, float] = {}
        self.changed = threading.Condition()

    def on_message(self, frame):
        now = time.perf_counter()
        with self.changed:
            self.at[frame.headers.get("n") or _n_of(frame.body)] = now
            self.changed.notify_all()

    def wait_for(self, key: str, timeout: float = 10.0) -> float:
        with self.changed:
            if not self.changed.wait_for(lambda: key in self.at, timeout):
                raise RuntimeError(f"message {key} not delivered within {timeout} s")
            return self.at[key]


def _n_of(body: bytes) -> str:
    """The shipped messages carry their number as the body of the envelope."""
    from spoolq import envelope

    return envelope.decode(body).body


def subscriber(broker: Broker, destination: str, listener: Arrivals) -> stomp.Connection12:
    conn = stomp.Connection12([("127.0.0.1", broker.stomp_port)], auto_decode=False, vhost="/")
    conn.set_listener("arrivals", listener)
    conn.connect(broker.user, broker.passcode, wait=True)
    conn.subscribe(destination, id="bench", ack="auto")
    return conn


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def start_shippers(broker: Broker, base: Path, count: int) -> list[tuple[subprocess.Popen, Path, str]]:
    env = dict(os.environ, SPOOLQ_TEST_PASSCODE=broker.passcode)
    started = []
    for index in range(count):
        node = f"idle{index}-{uuid.uuid4().hex[:6]}"
        config = write_node_config(base / f"site{index}", node, broker)
        log = open(base / f"site{index}.log", "wb")  # noqa: SIM115  (kept by the child)
        process = subprocess.Popen(
            [sys.executable, "-m", "spoolq", "--config", str(config), "ship", "--shipper", "out"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        log.close()
        started.append((process, config, node))
    deadline = time.monotonic() + START_TIMEOUT
    for process, config, _node in started:
        while not any(r.get("state") == "connected" for r in shipper_rows(str(root_of(config).path))):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"shipper of {config} did not connect (see {config.parent}.log)")
            time.sleep(0.1)
    return started


def measure_idle(pids: list[int], seconds: float) -> tuple[float, float]:
    """(CPU as % of one core, context switches per shipper and second) over ``seconds``."""
    cpu0, cs0, t0 = [cpu_seconds(p) for p in pids], [context_switches(p) for p in pids], time.monotonic()
    time.sleep(seconds)
    cpu1, cs1, t1 = [cpu_seconds(p) for p in pids], [context_switches(p) for p in pids], time.monotonic()
    elapsed = t1 - t0
    cpu = 100 * sum(b - a for a, b in zip(cpu0, cpu1, strict=True)) / elapsed
    switches = sum(b - a for a, b in zip(cs0, cs1, strict=True)) / len(pids) / elapsed
    return cpu, switches


def ship_latency(
    broker: Broker, config: Path, node: str, messages: int, pause: float
) -> tuple[list[float], list[float]]:
    """For single messages into the idle shipper of ``config``, in ms: (the put itself, put -> delivery).

    The put is a non-durable one (no fsync: tens of microseconds), so that the
    latency counted from its start is the shipper's and the broker's, not the disk's.
    """
    listener = Arrivals()
    conn = subscriber(broker, f"/queue/spoolq-test.{node}", listener)
    spool = SpoolRoot(root_of(config).path, durable=False).spool("outgoing")
    puts, samples = [], []
    try:
        for n in range(messages):
            time.sleep(pause)  # idle again: its claimer and pump asleep
            started = time.perf_counter()
            spool.put(Message.new("bench", str(n), to=f"md@{node}"))
            puts.append(1000 * (time.perf_counter() - started))
            samples.append(1000 * (listener.wait_for(str(n)) - started))
    finally:
        conn.disconnect()
    return puts, samples


def broker_latency(broker: Broker, messages: int, pause: float) -> list[float]:
    """send -> delivery, in ms, of a bare stomp.py client through the same broker."""
    destination = f"/queue/bench-rtt-{uuid.uuid4().hex[:8]}"
    listener = Arrivals()
    consumer = subscriber(broker, destination, listener)
    sender = stomp.Connection12([("127.0.0.1", broker.stomp_port)], auto_decode=False, vhost="/")
    sender.connect(broker.user, broker.passcode, wait=True)
    samples = []
    try:
        for n in range(messages):
            time.sleep(pause)
            started = time.perf_counter()
            sender.send(destination, b"x", headers={"persistent": "true", "n": str(n)})
            samples.append(1000 * (listener.wait_for(str(n)) - started))
    finally:
        sender.disconnect()
        consumer.disconnect()
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shippers", type=int, default=50, help=f"idle shippers (at most {MAX_SHIPPERS})")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long their CPU is measured")
    parser.add_argument("--messages", type=int, default=100, help="single messages timed for latency")
    parser.add_argument("--pause", type=float, default=0.1, help="seconds between them")
    args = parser.parse_args()
    count = max(1, min(args.shippers, MAX_SHIPPERS))
    with tempfile.TemporaryDirectory(prefix="spoolq-bench-idle-") as tmp:
        base = Path(tmp)
        broker = Broker(base / "rabbitmq")
        broker.start()
        started: list = []
        try:
            started = start_shippers(broker, base, count)
            time.sleep(1.0)  # the start-up's last writes settle
            pids = [process.pid for process, _config, _node in started]
            cpu, switches = measure_idle(pids, args.seconds)
            verdict = "met" if cpu * 50 / count < CPU_TARGET else "MISSED"
            print(f"{count} idle shippers over {args.seconds:g} s: {cpu:.2f} % of one core together "
                  f"(target < {CPU_TARGET:g} % for 50: {verdict}); "
                  f"{switches:.1f} context switches per shipper and second")  # fmt: skip
            _process, config, node = started[0]
            puts, ship = ship_latency(broker, config, node, args.messages, args.pause)
            rtt = broker_latency(broker, args.messages, args.pause)
            (p50, p99), (r50, r99), (u50, _u99) = percentiles(ship), percentiles(rtt), percentiles(puts)
            print(f"put -> delivered through an idle shipper: p50 {p50:.2f} ms, p99 {p99:.2f} ms "
                  f"({len(ship)} messages; the non-durable put itself: p50 {u50:.3f} ms)")  # fmt: skip
            print(f"bare send -> delivery through the broker: p50 {r50:.2f} ms, p99 {r99:.2f} ms; "
                  f"the shipper adds p50 {p50 - r50:.2f} ms (target: ~ the watcher's 0.13 ms)")  # fmt: skip
        finally:
            for process, _config, _node in started:
                process.terminate()
            for process, _config, _node in started:
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            broker.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
