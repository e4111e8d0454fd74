"""``spoolq find`` on a root of 100,000 messages, beside ``grep -rlF`` over the same files.

    python benchmarks/bench_find.py [--messages N] [--repeats R] [--dir DIR]

Builds a root (on tmpfs, /dev/shm, when present; else a temporary directory,
or --dir) of N messages (100,000 by default; at most 1,000,000) spread over
ten spools, plus a parked area of a hundred, each a typical envelope with a
message-id and a correlation-id.  Then times, best of R runs each:

* ``find`` of an element name (found by path),
* ``find`` of a message-id near the end of the last spool (every header read),
* ``find`` of a correlation-id (the same scan, another header field),
* ``find`` of an id found nowhere (every element read),

both in process (``spoolq.cli.find.find_records``: the search alone) and as
a user runs it (``python -m spoolq find``: interpreter start-up included),
beside ``grep -rlF ID ROOT``, the shell's way to the same answer without
states.  Each is given in wall-clock seconds and in CPU seconds (on a shared
machine the first counts the other tenants' load too).  Target: within a
second or two on 100,000 messages.  The root is deleted at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from spoolq import Message, SpoolRoot, envelope  # noqa: E402
from spoolq.cli.find import find_records  # noqa: E402
from spoolq.spool.parking import park  # noqa: E402

SPOOLS = 10
PARKED = 100
MAX_MESSAGES = 1_000_000
TARGET_SECONDS = 2.0


def build(root: SpoolRoot, messages: int) -> tuple[str, str, str]:
    """Fill ``root``; return an element name, a message-id and a correlation-id near the end."""
    per_spool = messages // SPOOLS
    last_name = last_id = last_correlation = ""
    for number in range(SPOOLS):
        spool = root.spool(f"spool{number}")
        batch = [
            envelope.encode(
                Message.new(
                    "CACHE_WRITTEN",
                    {"file": f"/pnfs/data/{number}/{n}", "size": n},
                    **{"correlation-id": f"request-{number}-{n}"},
                )
            )
            for n in range(per_spool)
        ]
        for start in range(0, per_spool, 1000):
            names = spool.put_many(batch[start : start + 1000])
        last_name = names[-1]
        header = envelope.header_of(batch[-1])
        last_id, last_correlation = header["message-id"], header["correlation-id"]
    for n in range(PARKED):
        park(root, "spool0", envelope.encode(Message.new("BAD", str(n))), "no handler for message type 'BAD'")
    return last_name, last_id, last_correlation


def best_of(repeats: int, run: Callable[[], object]) -> tuple[float, float]:
    """The best wall-clock time of ``repeats`` runs, and the best CPU time (this process and its children).

    On a shared machine the wall clock counts the other tenants' load too;
    the CPU time is what the search itself costs.
    """
    walls, cpus = [], []
    for _ in range(repeats):
        cpu_before = _cpu()
        started = time.perf_counter()
        run()
        walls.append(time.perf_counter() - started)
        cpus.append(_cpu() - cpu_before)
    return min(walls), min(cpus)


def _cpu() -> float:
    own, children = os.times(), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.user + own.system + children.ru_utime + children.ru_stime


def cli_find(root: SpoolRoot, wanted: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "spoolq", "--root", root.path, "find", wanted],
        capture_output=True,
        check=False,
        cwd=REPO,
        timeout=120,
    )


def grep(root: SpoolRoot, wanted: str) -> None:
    subprocess.run(["grep", "-rlF", wanted, root.path], capture_output=True, check=False, timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dir", help="where to build the root [/dev/shm, else a temporary directory]")
    args = parser.parse_args()
    messages = max(SPOOLS, min(args.messages, MAX_MESSAGES))
    base = args.dir or ("/dev/shm" if os.path.isdir("/dev/shm") else None)
    directory = tempfile.mkdtemp(prefix="spoolq-bench-find-", dir=base)
    try:
        root = SpoolRoot(directory, durable=False)
        started = time.perf_counter()
        name, message_id, correlation_id = build(root, messages)
        print(f"root of {messages} messages in {SPOOLS} spools (+{PARKED} parked) at {directory}")
        print(f"built in {time.perf_counter() - started:.1f} s\n")
        cases = [
            ("element name", name),
            ("message-id near the end", message_id),
            ("correlation-id near the end", correlation_id),
            ("missing id", "0123456789abcdef0123456789abcdef"),
        ]
        print(f"seconds, best of {args.repeats}: wall clock (CPU)")
        heading = f"{'find':28} {'in process':>15} {'spoolq find':>15} {'grep -rlF':>15}"
        print(f"{heading}   target: spoolq find <= {TARGET_SECONDS:g} s")
        for what, wanted in cases:
            found = find_records(root, wanted)
            assert (len(found) > 0) == (what != "missing id"), (what, found)
            inside = best_of(args.repeats, lambda w=wanted: find_records(root, w))
            command = best_of(args.repeats, lambda w=wanted: cli_find(root, w))
            shell = best_of(args.repeats, lambda w=wanted: grep(root, w))
            verdict = "met" if command[0] <= TARGET_SECONDS else "MISSED"
            cells = " ".join(f"{wall:7.2f} ({cpu:5.2f})" for wall, cpu in (inside, command, shell))
            print(f"{what:28} {cells}   {verdict}")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
