"""Kill -9 the daemons and restart the broker under load; count what was lost, doubled and left behind.

One machine, loopback only, a private RabbitMQ node (spoolq/testbed/broker.py) and two
spoolq nodes, each a spool root with its configuration, run through the real
CLI as an operator runs it::

    producer -> A/outgoing --spoolq ship--> broker --spoolq receive--> B/md
             --spoolq watch md --handler chaos_handler:slow_echo--> B/md_reply  (counted here)

Every message carries a unique id in its body; the handler (an echo that
works ``--delay`` seconds first, benchmarks/chaos_handler.py) answers with the
same body into the reply spool, so each id found there was handled.

The disruptions are ``--rounds`` of each kind, shuffled by ``--seed``: kill -9
of the watcher, of the shipper, of the receiver (each restarted after a short
random pause), and a broker stop and start.  ``--messages`` are split into one
slice a disruption, trickled in while it strikes, so that every kill finds
messages on every leg of the way.

After the last disruption the script waits (at most ``--settle-timeout``
seconds) until every id has a reply, the spools on the way are empty and no
lock is left, then prints:

* sent, delivered (distinct ids with a reply), lost (ids nowhere: neither
  replied to, nor still on the way, nor parked), pending (still on the way
  when the wait ended), doubled (ids replied to more than once: at-least-once
  delivery allows it, so it is only counted);
* debris left in every spool of both roots: ``.tmp`` files, ``.batch-*``
  folders, ``.lck`` locks (nothing is in flight once settled, so every lock
  left has no live owner), and parked messages;
* the time to settle, from the last kill (or broker stop) to the moment every
  message was handled and no lock was left; none when the wait timed out.

Exit status 0 when nothing was lost, nothing was left behind and every
message settled in time; 1 otherwise.

    python benchmarks/chaos.py [--rounds 3] [--messages 300] [--seed 1] [--json]
                               [--settle-timeout 900] [--lock-timeout SECONDS]
                               [--workers 2] [--delay 0.05] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCHMARKS.parent))

from spoolq.message import Message  # noqa: E402
from spoolq.testbed.broker import Broker  # noqa: E402
from spoolq.testbed.daemons import Daemon  # noqa: E402
from spoolq.testbed.debris import debris_of, locks_in  # noqa: E402
from spoolq.testbed.shipping import root_of, write_node_config  # noqa: E402

KINDS = ("watcher", "shipper", "receiver", "broker")
REQUESTS = "md"  # the watched spool on node B
REPLIES = "md_reply"  # where the handler's answers land (no reply-to)
POLL = 0.25  # seconds between looks while waiting to settle


# -- the replies ----------------------------------------------------------------------------------


class ReplyCounter:
    """Reads each new element of the reply spool once; counts the ids in their bodies."""

    def __init__(self, spool):
        self.spool = spool
        self.seen: set[str] = set()
        self.ids: Counter[str] = Counter()

    def refresh(self) -> None:
        for name in list(self.spool.names()):
            if name in self.seen:
                continue
            try:
                body = self.spool.get(name).body_bytes.decode()
            except FileNotFoundError:
                continue
            self.seen.add(name)
            self.ids[body] += 1


def ids_in(spool) -> set[str]:
    """The bodies (our ids) of every element still in ``spool``."""
    found = set()
    for name in list(spool.names()):
        try:
            found.add(spool.get(name).body_bytes.decode())
        except FileNotFoundError:
            continue
    return found


# -- one run --------------------------------------------------------------------------------------


@dataclass
class Report:
    sent: int
    delivered: int
    lost: int
    pending: int
    doubled: int
    debris: int
    debris_detail: dict
    settled: bool
    settle_seconds: float | None
    disruptions: dict
    locks_after_kill: dict
    crashes: dict
    seconds: float
    lost_ids: list[str]


class ChaosRun:
    """Two nodes, their daemons and a private broker in ``directory``; :meth:`run` returns a Report."""

    def __init__(self, directory: Path, args: argparse.Namespace):
        self.directory, self.args = directory, args
        self.random = random.Random(args.seed)
        self.broker = Broker(directory / "rabbitmq")
        self.node_a, self.node_b = f"chaos-a-{os.getpid()}", f"chaos-b-{os.getpid()}"
        self.config_a = write_node_config(directory / "a", self.node_a, self.broker)
        self.config_b = write_node_config(directory / "b", self.node_b, self.broker)
        self.root_a, self.root_b = root_of(self.config_a), root_of(self.config_b)
        env = {k: v for k, v in os.environ.items() if k not in ("SPOOLQ_ROOT", "SPOOLQ_CONFIG")}
        env["SPOOLQ_TEST_PASSCODE"] = self.broker.passcode  # the configurations read it from here
        # the handler's module; no empty entry, which would put the daemon's working directory first
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(BENCHMARKS), env.get("PYTHONPATH")) if p)
        watch = ["--config", str(self.config_b), "watch", REQUESTS, "--handler", "chaos_handler:slow_echo"]
        watch += ["--workers", str(args.workers), "-o", f"delay={args.delay}"]
        if args.lock_timeout is not None:
            watch += ["--lock-timeout", str(args.lock_timeout)]
        self.daemons = {
            "shipper": Daemon(
                "shipper",
                ["--config", str(self.config_a), "ship", "--shipper", "out"],
                directory / "a" / "ship.log",
                env,
            ),
            "receiver": Daemon(
                "receiver",
                ["--config", str(self.config_b), "receive", "--shipper", "in"],
                directory / "b" / "receive.log",
                env,
            ),
            "watcher": Daemon("watcher", watch, directory / "b" / "watch.log", env),
        }
        self.crashes: Counter[str] = Counter()

    def run(self) -> Report:
        began = time.monotonic()
        self.broker.start()
        try:
            for daemon in self.daemons.values():
                daemon.start()
            sent = self._disrupt_under_load()
            last_kill = self.last_kill
            settled_at = self._wait_to_settle(sent)
            report = self._report(sent, last_kill, settled_at, began)
        finally:
            for daemon in self.daemons.values():
                daemon.stop()
            self.broker.close()
        return report

    def _disrupt_under_load(self) -> list[str]:
        """Each disruption lands while its slice of the load is being put, shipped and handled."""
        plan = [kind for kind in KINDS for _ in range(self.args.rounds)]
        self.random.shuffle(plan)
        outgoing = self.root_a.spool("outgoing")
        sent: list[str] = []
        self.disruptions: Counter[str] = Counter()
        self.locks_after_kill: Counter[str] = Counter()  # both roots, just after each kill
        self.last_kill = time.monotonic()
        for kind, size in zip(plan, _slices(self.args.messages, len(plan)), strict=True):
            bodies = [f"chaos-{self.args.seed}-{len(sent) + n}" for n in range(size)]
            sent += bodies
            spread = self.random.uniform(0.5, 1.5)
            producer = threading.Thread(target=self._trickle, args=(outgoing, bodies, spread))
            producer.start()
            time.sleep(self.random.uniform(0.2, spread))  # mid-slice: messages on every leg of the way
            self._note_crashes()
            self.last_kill = time.monotonic()
            if kind == "broker":
                self.broker.stop()
                time.sleep(self.random.uniform(0.1, 1.0))
                self.broker.start()
            else:
                daemon = self.daemons[kind]
                daemon.kill()
                self.locks_after_kill[kind] += locks_in(self.root_a) + locks_in(self.root_b)
                time.sleep(self.random.uniform(0.1, 1.0))
                daemon.start()
            producer.join()
            self.disruptions[kind] += 1
            if not self.args.json:
                done = sum(self.disruptions.values())
                print(f"  {done:3d}/{len(plan)} {kind:8s} sent {len(sent)}", flush=True)
        return sent

    def _trickle(self, spool, bodies: list[str], seconds: float) -> None:
        """Put one message for each of ``bodies``, evenly over ``seconds``."""
        pause = seconds / max(1, len(bodies))
        for body in bodies:
            spool.put(Message.new("chaos", body, to=f"{REQUESTS}@{self.node_b}"))
            time.sleep(pause)

    def _note_crashes(self) -> None:
        """A daemon that ended by itself is a crash: count it and start it again."""
        for name, daemon in self.daemons.items():
            if daemon.exits() is not None:
                self.crashes[name] += 1
                daemon.start()

    def _wait_to_settle(self, sent: list[str]) -> float | None:
        """Wait until every id has a reply, the spools on the way are empty and no lock is left."""
        replies = ReplyCounter(self.root_b.spool(REPLIES))
        on_the_way = (self.root_a.spool("outgoing"), self.root_b.spool(REQUESTS))
        expected = set(sent)
        deadline = time.monotonic() + self.args.settle_timeout
        while time.monotonic() < deadline:
            self._note_crashes()
            replies.refresh()
            if (
                expected <= replies.ids.keys()
                and all(spool.count() == 0 for spool in on_the_way)
                and locks_in(self.root_a) == 0
                and locks_in(self.root_b) == 0
            ):
                return time.monotonic()
            time.sleep(POLL)
        return None

    def _report(self, sent: list[str], last_kill: float, settled_at: float | None, began: float) -> Report:
        replies = ReplyCounter(self.root_b.spool(REPLIES))
        replies.refresh()
        delivered = set(replies.ids) & set(sent)
        on_the_way = ids_in(self.root_a.spool("outgoing")) | ids_in(self.root_b.spool(REQUESTS))
        parked = set()
        for root in (self.root_a, self.root_b):
            for origin in root.parked_names():
                parked |= ids_in(root.parked(origin, create=False))
        pending = (on_the_way | parked) - delivered
        lost = sorted(set(sent) - delivered - pending)
        debris = debris_of(self.root_a, "a")
        debris.add(debris_of(self.root_b, "b"))
        return Report(
            sent=len(sent),
            delivered=len(delivered),
            lost=len(lost),
            pending=len(pending),
            doubled=sum(1 for n in replies.ids.values() if n > 1),
            debris=debris.total(),
            debris_detail=asdict(debris),
            settled=settled_at is not None,
            settle_seconds=None if settled_at is None else round(settled_at - last_kill, 2),
            disruptions=dict(self.disruptions),
            locks_after_kill=dict(self.locks_after_kill),
            crashes=dict(self.crashes),
            seconds=round(time.monotonic() - began, 1),
            lost_ids=lost[:20],
        )


def _slices(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` sizes that differ by at most one."""
    base, extra = divmod(total, parts)
    return [base + (1 if n < extra else 0) for n in range(parts)]


def print_report(report: Report) -> None:
    settle = f"{report.settle_seconds:.1f} s" if report.settled else "not settled within the timeout"
    print(f"sent            {report.sent}")
    print(f"delivered       {report.delivered}")
    example = f"  e.g. {', '.join(report.lost_ids[:5])}" if report.lost else ""
    print(f"lost            {report.lost}{example}")
    print(f"pending         {report.pending}")
    print(f"doubled         {report.doubled}")
    d = report.debris_detail
    print(
        f"debris left     {report.debris}  (tmp {d['temporary']}, batch folders {d['batch_folders']}, "
        f"locks {d['locks']}, parked {d['parked']})"
    )
    for place, count in sorted(d["where"].items()):
        print(f"                {count:5d}  {place}")
    print(f"time to settle  {settle} after the last kill")
    print(f"disruptions     {', '.join(f'{k} {v}' for k, v in sorted(report.disruptions.items()))}")
    locks = ", ".join(f"{k} {v}" for k, v in sorted(report.locks_after_kill.items()))
    print(f"locks just after the kills  {locks or 'none'}  (in both roots, live and orphaned, summed)")
    if report.crashes:
        print(f"crashes         {', '.join(f'{k} {v}' for k, v in sorted(report.crashes.items()))}")
    print(f"whole run       {report.seconds:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="disruptions of each kind [3]")
    parser.add_argument("--messages", type=int, default=300, help="messages sent in all [300]")
    parser.add_argument("--seed", type=int, default=1, help="seed of the order and the pauses [1]")
    parser.add_argument("--settle-timeout", type=float, default=900, help="seconds to settle [900]")
    parser.add_argument("--workers", type=int, default=2, help="the watcher's worker threads [2]")
    parser.add_argument("--delay", type=float, default=0.05, help="seconds of work a message [0.05]")
    parser.add_argument(
        "--lock-timeout",
        type=float,
        default=None,
        help="the watcher's --lock-timeout [the product's default]",
    )
    parser.add_argument("--keep", action="store_true", help="keep the run's directory (logs, spools)")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args()
    if args.rounds < 1 or args.messages < 1 or args.settle_timeout <= 0:
        parser.error("--rounds and --messages must be at least 1, --settle-timeout above 0")
    directory = Path(tempfile.mkdtemp(prefix="spoolq-chaos-"))
    try:
        report = ChaosRun(directory, args).run()
    finally:
        if args.keep:
            print(f"kept {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)
    if args.json:
        print(json.dumps(asdict(report), sort_keys=True))
    else:
        print_report(report)
    return 0 if report.lost == 0 and report.debris == 0 and report.settled else 1


if __name__ == "__main__":
    sys.exit(main())
