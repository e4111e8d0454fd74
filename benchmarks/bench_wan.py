"""Shipping over a WAN link: rates at 0, 2, 10 and 50 ms round trip, against baselines in the same run.

Starts its own isolated broker (spoolq/testbed/broker.py) and, for each round
trip, a delay proxy in a process of its own (spoolq/testbed/delay_proxy.py)
that holds every chunk half the round trip each way; at 0 ms the clients
connect to the broker directly.  For persistent messages of ``--size`` bytes
(the contenders: spoolq/testbed/contenders.py):

* send one at a time: send, wait for the receipt, next (APEL SSM's way);
* send with a bare pipelined stomp.py loop, ``--window`` receipts outstanding;
* ``spoolq ship`` from a spool, with each window of ``--ship-windows``
  (a number, or ``auto``); the bare loop runs with each numeric one too;
* receive with a bare stomp.py consume loop, and ``spoolq receive`` into a spool.

Targets: at 10 ms, ship >= 50 x one-at-a-time and >= 0.8 x the bare loop with
the same window; at 50 ms, ship >= 100 x one-at-a-time.  The window caps a
sender at window / RTT, which is what ``window = "auto"`` is for.

The proxy's own cost is measured first: a round trip and the bare loop's rate
through it with no delay, against a direct connection.

Each contender runs ``--rounds`` times, taking turns; the median of its rates
is printed.  Counts are bounded by time: one-at-a-time sends for about
``--single-seconds`` at each round trip.

    python benchmarks/bench_wan.py [--rtts 0,2,10,50] [--count 5000] [--size 1024] [--window 100]
                                   [--ship-windows 100,500,auto] [--rounds 3] [--spool-dir DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from spoolq.testbed.broker import Broker  # noqa: E402
from spoolq.testbed.contenders import (  # noqa: E402
    Counter,
    bare_consume,
    bare_pipelined,
    connect,
    fresh_queue,
    one_at_a_time,
    spoolq_receive,
    spoolq_ship,
)
from spoolq.testbed.proxy_process import ProxyProcess  # noqa: E402

TARGETS = {10: {"single": 50.0, "bare": 0.8}, 50: {"single": 100.0}}


def round_trip_ms(broker: Broker, port: int, count: int = 200) -> float:
    """The median time of one persistent send and its receipt, in ms."""
    conn, listener = connect(broker, port, lambda c: Counter())
    queue = fresh_queue()
    times = []
    for n in range(count):
        start = time.perf_counter()
        conn.send(f"/queue/{queue}", b"x", headers={"persistent": "true", "receipt": str(n)})
        listener.wait_for(n + 1)
        times.append(time.perf_counter() - start)
    conn.disconnect()
    broker.delete_queue(queue)
    return statistics.median(times) * 1000


def proxy_overhead(broker: Broker, args: argparse.Namespace, body: bytes) -> None:
    """The proxy with no delay against a direct connection: what the link itself costs."""
    with ProxyProcess(broker.stomp_port, 0.0) as proxy:
        direct_rtt, proxy_rtt, direct_rate, proxy_rate = [], [], [], []
        for _ in range(args.rounds):
            direct_rtt.append(round_trip_ms(broker, broker.stomp_port))
            proxy_rtt.append(round_trip_ms(broker, proxy.port))
            direct_rate.append(bare_pipelined(broker, args.count, body, args.window))
            proxy_rate.append(bare_pipelined(broker, args.count, body, args.window, proxy.port))
    d_rtt, p_rtt = statistics.median(direct_rtt), statistics.median(proxy_rtt)
    d_rate, p_rate = statistics.median(direct_rate), statistics.median(proxy_rate)
    print("the delay proxy's own cost (no delay, against a direct connection):")
    print(f"  send + receipt : {d_rtt:6.3f} ms direct, {p_rtt:6.3f} ms through it (+{p_rtt - d_rtt:.3f} ms)")
    ratio = p_rate / d_rate
    print(f"  bare pipelined : {d_rate:6.0f} msg/s direct, {p_rate:6.0f} msg/s through it ({ratio:.2f} x)")
    sys.stdout.flush()


def windows(text: str) -> list[int | str]:
    return [w if w == "auto" else int(w) for w in text.split(",")]


def contest(broker: Broker, port: int, rtt: float, spools: Path, args, body: bytes) -> dict[str, float]:
    """Every contender at one round trip, ``args.rounds`` alternating rounds; the median of each."""
    rates: dict[str, list[float]] = {}
    single_count = max(20, min(500, int(args.single_seconds / max(rtt / 1000, 0.002))))
    bare_windows = sorted({args.window, *[w for w in args.ship_windows if w != "auto"]})
    for _ in range(args.rounds):
        rates.setdefault("consume", []).append(bare_consume(broker, args.count, body, args.window, port))
        rates.setdefault("receive", []).append(
            spoolq_receive(broker, spools, args.count, args.size, args.window, port)
        )
        rates.setdefault("single", []).append(one_at_a_time(broker, single_count, body, port))
        for window in bare_windows:
            rates.setdefault(f"bare {window}", []).append(
                bare_pipelined(broker, args.count, body, window, port)
            )
        for window in args.ship_windows:
            rates.setdefault(f"ship {window}", []).append(
                spoolq_ship(broker, spools, args.count, args.size, window, port)
            )
    return {name: statistics.median(values) for name, values in rates.items()}


def report(rtt: float, rates: dict[str, float], args) -> None:
    single = rates["single"]
    print(f"RTT {rtt:g} ms:")
    print(f"  send  one-at-a-time (SSM way)    : {single:8.0f} msg/s")
    for name, rate in rates.items():
        if name.startswith("bare "):
            print(f"  send  bare pipelined, window {name[5:]:>4}: {rate:8.0f} msg/s")
    targets = TARGETS.get(int(rtt), {})
    for window in args.ship_windows:
        rate = rates[f"ship {window}"]
        same = window if isinstance(window, int) else args.window  # auto: against the default's loop
        ratio_single, ratio_bare = rate / single, rate / rates[f"bare {same}"]
        want_single = f" (target >= {targets['single']:g})" if "single" in targets else ""
        want_bare = f" (target >= {targets['bare']:g})" if "bare" in targets else ""
        print(
            f"  send  spoolq ship, window {str(window):>4}  : {rate:8.0f} msg/s"
            f"  = {ratio_single:6.1f} x one-at-a-time{want_single},"
            f" {ratio_bare:5.2f} x bare {same}{want_bare}"
        )
    consume, receive = rates["consume"], rates["receive"]
    print(f"  recv  bare consume stomp.py      : {consume:8.0f} msg/s")
    ratio = receive / consume
    print(f"  recv  spoolq receive (durable)   : {receive:8.0f} msg/s  = {ratio:5.2f} x bare consume")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rtts", default="0,2,10,50", help="round trips in ms, comma-separated")
    parser.add_argument("--count", type=int, default=5000, help="messages per pipelined run")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--window", type=int, default=100, help="the bare loop's window and the prefetch")
    parser.add_argument("--ship-windows", type=windows, default=windows("100,500,auto"))
    parser.add_argument("--single-seconds", type=float, default=2.0, help="about how long one-at-a-time runs")
    parser.add_argument(
        "--rounds", type=int, default=3, help="alternating rounds; the median of each is kept"
    )
    parser.add_argument("--spool-dir", default=None, help="where the spool roots go (default: /dev/shm)")
    args = parser.parse_args()
    os.environ.setdefault("SPOOLQ_TEST_PASSCODE", "guest")
    body = b"x" * args.size
    spool_dir = args.spool_dir or ("/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir())
    print(f"persistent messages of {args.size} bytes, {args.count} a pipelined run, window {args.window},"
          f" median of {args.rounds} rounds; spools in {spool_dir}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-wan-") as scratch:
        broker = Broker(Path(scratch) / "rabbitmq")
        broker.start()
        try:
            proxy_overhead(broker, args, body)
            for rtt in (float(r) for r in args.rtts.split(",")):
                with tempfile.TemporaryDirectory(prefix="bench-wan-spools-", dir=spool_dir) as spools:
                    if rtt == 0:
                        rates = contest(broker, broker.stomp_port, rtt, Path(spools), args, body)
                    else:
                        with ProxyProcess(broker.stomp_port, rtt / 2000) as proxy:
                            rates = contest(broker, proxy.port, rtt, Path(spools), args, body)
                report(rtt, rates, args)
        finally:
            broker.close()


if __name__ == "__main__":
    main()
