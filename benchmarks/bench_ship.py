"""Shipping and receiving rates through a real RabbitMQ, against baselines measured in the same run.

Starts its own isolated broker (spoolq/testbed/broker.py), then measures, for persistent
messages of ``--size`` bytes (the contenders: spoolq/testbed/contenders.py):

* send, one at a time: send, wait for the receipt, next (APEL SSM's way), in its
  strictest form: woken the moment the receipt arrives, and no spool work between
  messages (SSM's own sender also locks, reads and removes a dirq element per
  message, and sleeps between looks for the receipt: 10 ms in its recent releases);
* send, bare pipelined stomp.py loop: ``--window`` receipts outstanding;
* send, spoolq: StompShipper draining an outgoing spool (claim, send, remove on receipt);
* receive, bare stomp.py consume loop: client-individual, ack each, nothing written;
* receive, spoolq: StompReceiver writing every message durably into a spool, then acking.

Targets: spoolq >= 10 x one-at-a-time, >= 0.8 x bare pipelined; receiver >= 0.7 x bare consume.

The whole contest runs once per spool location: on tmpfs (``/dev/shm``), where
the shipper's and the receiver's own work set their pace (the bare loops touch
no disk at all), and in the system's temporary directory, on its disk, where
the dirq format's file operations are paid as well (a link and two unlinks a
message sent, a file created a message received).

Every sender writes into a fresh queue, deleted after its run: a queue that
holds the messages of earlier runs makes the broker slower, and so would
favour whichever contender ran first.

    python benchmarks/bench_ship.py [--count 5000] [--size 300] [--window 200] [--rounds 3]
                                    [--spool-dir DIR ...]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from spoolq.testbed.broker import Broker  # noqa: E402
from spoolq.testbed.contenders import (  # noqa: E402
    bare_consume,
    bare_pipelined,
    one_at_a_time,
    spoolq_receive,
    spoolq_ship,
)


def default_spool_dirs() -> list[str]:
    """tmpfs, where the shipper's own work sets its pace, and the disk of the system's temporary files."""
    return [d for d in ("/dev/shm", tempfile.gettempdir()) if os.path.isdir(d)]


def contest(broker: Broker, spools: Path, args: argparse.Namespace, body: bytes) -> dict[str, float]:
    """Every contender, ``args.rounds`` alternating rounds; the best rate of each."""
    best: dict[str, float] = {}

    def keep(name: str, rate: float) -> None:
        best[name] = max(best.get(name, 0.0), rate)

    # Contenders take turns, round by round, so that a change in the load of a shared
    # machine does not favour whichever ran while it was quiet.  The receivers go first:
    # the shipper removes thousands of elements a round, and on an ext4 without a journal
    # creating files near inodes freed in the last minute is slow
    # (docs/spool-benchmark.md): a receiver run right after a shipper's would pay for the
    # benchmark's own deletions.
    for _ in range(args.rounds):
        keep("consumed", bare_consume(broker, args.count, body, args.window))
        keep("received", spoolq_receive(broker, spools, args.count, args.size, args.window))
    for _ in range(args.rounds):
        keep("single", one_at_a_time(broker, max(200, args.count // 10), body))
        keep("pipelined", bare_pipelined(broker, args.count, body, args.window))
        keep("shipped", spoolq_ship(broker, spools, args.count, args.size, args.window))
    return best


def report(where: str, best: dict[str, float]) -> None:
    single, pipelined, shipped = best["single"], best["pipelined"], best["shipped"]
    consumed, received = best["consumed"], best["received"]
    print(f"spools in {where}:")
    print(f"  send  one-at-a-time (SSM way) : {single:9.0f} msg/s")
    print(f"  send  bare pipelined stomp.py : {pipelined:9.0f} msg/s")
    print(f"  send  spoolq ship             : {shipped:9.0f} msg/s")
    print(f"    spoolq / one-at-a-time = {shipped / single:5.1f} x (target >= 10)")
    print(f"    (bare pipelined / one-at-a-time = {pipelined / single:5.1f} x: a sender without spool)")
    print(f"    spoolq / bare pipelined = {shipped / pipelined:5.2f} x (target >= 0.8)")
    print(f"  recv  bare consume stomp.py   : {consumed:9.0f} msg/s")
    print(f"  recv  spoolq receive (durable): {received:9.0f} msg/s")
    print(f"    spoolq / bare consume = {received / consumed:5.2f} x (target >= 0.7)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--size", type=int, default=300)
    parser.add_argument("--window", type=int, default=200)
    parser.add_argument(
        "--spool-dir",
        action="append",
        dest="spool_dirs",
        help="where the spool roots go; repeat for several (default: /dev/shm, then the system"
        " temporary directory)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the best of each is kept")
    args = parser.parse_args()
    os.environ.setdefault("SPOOLQ_TEST_PASSCODE", "guest")
    body = b"x" * args.size
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-ship-") as scratch:
        broker = Broker(Path(scratch) / "rabbitmq")
        broker.start()
        try:
            for spool_dir in args.spool_dirs or default_spool_dirs():
                with tempfile.TemporaryDirectory(prefix="bench-spools-", dir=spool_dir) as spools:
                    results.append((spool_dir, contest(broker, Path(spools), args, body)))
        finally:
            broker.close()
    print(f"persistent messages of {args.size} bytes, {args.count} per run, window {args.window},"
          f" best of {args.rounds} alternating rounds; broker data in {tempfile.gettempdir()}")  # fmt: skip
    for where, best in results:
        report(where, best)


if __name__ == "__main__":
    main()
