"""The shipper's work per SEND: an element's bytes to the frame ``Link.send_many`` writes.

    python benchmarks/bench_frame.py [--seconds S] [--rounds R] [--profile KIND]

Times ``StompShipper._frame`` (read the claim's bytes, route the message,
stamp its trail, map it onto a frame) on a shipper that is built but never
connected, for five kinds of element:

* ``typical``: a 1 KiB JSON body with the usual header (id, timestamp,
  sender, type, content-type, to, reply-to) and a ``put`` trail entry;
* ``raw``: 1 KiB of bytes that are no envelope (what APEL SSM spools hold);
* ``many-fields``: a small body under a header of 60 fields;
* ``text-256k``: a 256 KiB JSON body;
* ``binary-256k``: 256 KiB of random bytes (base64 in the envelope).

Beside each, as baselines of the same minutes: ``envelope.decode`` of the
same bytes alone (the least a full decode costs) and the bytes' ``sha1``.
Each figure is the best of ``--rounds`` rounds of about ``--seconds`` each,
in microseconds of the process's CPU a send (CPU, not wall-clock time: on a
shared machine the other tenants' load then moves it less).  ``--profile KIND`` runs cProfile over that kind
instead and prints where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from spoolq import Claim, Message, SpoolRoot, envelope, trail  # noqa: E402
from spoolq.shippers.broker_config import BrokerConfig  # noqa: E402
from spoolq.shippers.config import DestinationConfig, ShipperConfig  # noqa: E402
from spoolq.shippers.stomp import StompShipper  # noqa: E402

KiB = 1024


def elements() -> dict[str, bytes]:
    """The element bytes of each kind, as a spool holds them."""
    record = {"file": {"id": "0001", "path": "/pnfs/fs/usr/data/run/0001.raw", "size": 123456789}}
    typical_body = {**record, "checksums": [f"adler32:{n:08x}" for n in range(60)]}
    usual = {"to": "md@node-b", "reply_to": "pe_reply", "content_type": "application/json"}

    def stamped(message: Message) -> bytes:
        entry = trail.stamped(message.header, trail.PUT, "node-a", "spool=outgoing")
        return envelope.encode(message.with_header(**{trail.TRAIL: entry}))

    many = {f"x-field-{n:02d}": f"value {n} of a header with many fields" for n in range(60)}
    big_text = {"rows": [f"row {n}: " + "x" * 100 for n in range(2300)]}
    return {
        "typical": stamped(Message.new("CACHE_WRITTEN", typical_body, **usual)),
        "raw": b"APEL-individual-job-message: v0.3\n" + b"Site: TEST\nValue: 42\n%%\n" * 41,
        "many-fields": stamped(Message.new("BULK", "small body", to="md@node-b", **many)),
        "text-256k": stamped(Message.new("DUMP", big_text, to="md@node-b")),
        "binary-256k": stamped(Message.new("BLOB", os.urandom(256 * KiB), to="md@node-b")),
    }


def shipper(root: SpoolRoot, address: str) -> StompShipper:
    """A shipper as `spoolq ship` builds it, never connected: ``_frame`` needs no broker."""
    config = ShipperConfig(name="bench", kind="ship", destination="d", spool="outgoing")
    destination = DestinationConfig(name="d", broker="b", address=address)
    broker = BrokerConfig(name="b", hosts=(("127.0.0.1", 61613),))
    return StompShipper(root, config, destination, broker, node="node-a")


def per_call(work: Callable[[], object], seconds: float, rounds: int) -> float:
    """Microseconds of CPU a call, the best of ``rounds`` rounds of about ``seconds`` each."""
    calls = 1
    while True:  # calibrate: enough calls to fill a round (bounded by the doubling)
        start = time.process_time()
        for _ in range(calls):
            work()
        spent = time.process_time() - start
        if spent >= seconds / 4 or calls >= 1 << 20:
            break
        calls *= 2
    calls = max(1, int(calls * seconds / max(spent, 1e-9)))
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(calls):
            work()
        best = min(best, (time.process_time() - start) / calls)
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="length of a round (default 0.5)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the best is kept (default 5)")
    parser.add_argument("--profile", choices=sorted(elements()), help="profile one kind instead")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of the table")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-frame-") as path:
        root = SpoolRoot(path)
        routed = shipper(root, "/queue/spoolq.{node}")  # the node from each message's `to`
        fixed = shipper(root, "/queue/apel")  # a raw body has no `to`: one queue for all
        spool = root.spool("outgoing")
        kinds = elements()

        def send(data: bytes) -> Callable[[], object]:
            sender = routed if envelope.decode(data).header else fixed
            return lambda: sender._frame(Claim(spool, "6b041698/6b0416a480e48d", data=data))

        if args.profile:
            work = send(kinds[args.profile])
            profile = cProfile.Profile()
            calls = 20_000 if len(kinds[args.profile]) < 10 * KiB else 500
            profile.runcall(lambda: [work() for _ in range(calls)])
            pstats.Stats(profile).sort_stats("tottime").print_stats(25)
            return
        figures = {}
        for kind, data in kinds.items():
            assert send(data)() is not None, f"{kind}: parked, not framed"
            figures[kind] = {
                "bytes": len(data),
                "frame_us": per_call(send(data), args.seconds, args.rounds),
                "decode_us": per_call(lambda data=data: envelope.decode(data), args.seconds, args.rounds),
                "sha1_us": per_call(lambda data=data: hashlib.sha1(data).digest(), args.seconds, args.rounds),
            }
        if args.json:
            print(json.dumps(figures))
            return
        print(f"{'element':<12} {'bytes':>7} {'_frame us':>10} {'decode us':>10} {'sha1 us':>8}")
        for kind, row in figures.items():
            print(
                f"{kind:<12} {row['bytes']:>7} {row['frame_us']:>10.2f} {row['decode_us']:>10.2f}"
                f" {row['sha1_us']:>8.2f}"
            )
        print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
