"""Enstore aggregation benchmark: files archived per second end to end, and where time goes.

Run from the repository root::

    python benchmarks/bench_enstore.py [--files 2000] [--workers 2] [--dir DIR]

Runs the ``spoolq demo`` scenario (components as ``spoolq run`` child
processes) and prints, measured in the same run:

* files aggregated per second end to end: from the first write through the
  Disk Mover to the last file's archive record;
* the packing baseline: the same files read from the cache, packed into
  containers of the same size and copied into an archive directory by one
  process with no messaging at all, and the ratio end-to-end / baseline;
* the share of the workers' time spent packing and copying (tar + copy
  command) against the end-to-end time: the rest is spoolq (messages, state,
  policy, waiting on group ages).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from spoolq.enstore import containers  # noqa: E402
from spoolq.enstore.demo.scenario import ENGINE, run_demo  # noqa: E402


def packing_baseline(cache: str, files: int, per_container: int, scratch: str) -> float:
    """Seconds to read ``files`` cached files and pack them into containers, no messaging."""
    paths = sorted(os.path.join(d, f) for d, _, names in os.walk(cache) for f in names)[:files]
    archive = os.path.join(scratch, "baseline-archive")
    started = time.perf_counter()
    for index in range(0, len(paths), per_container):
        members = []
        for path in paths[index : index + per_container]:
            with open(path, "rb") as handle:
                members.append((os.path.basename(path), handle.read()))
        tar = os.path.join(scratch, f"b{index}.tar")
        containers.pack(members, tar)
        containers.store(tar, os.path.join(archive, f"b{index}.tar"))
        os.unlink(tar)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--dir", default=None, help="where to build the demo tree (default: a temp dir)")
    args = parser.parse_args()
    base = tempfile.mkdtemp(prefix="bench-enstore-", dir=args.dir)
    try:
        report = run_demo(os.path.join(base, "spool"), args.files, args.workers, say=lambda _text: None)
        if not report.ok:
            sys.exit(f"demo lost or corrupted files: {(report.lost + report.corrupted)[:5]}")
        archive_seconds = report.seconds["archive"]
        end_to_end = report.files / archive_seconds
        baseline_seconds = packing_baseline(
            os.path.join(base, "spool", "cache"), args.files, ENGINE["max_files"], base
        )
        baseline = report.files / baseline_seconds
        print(f"files                         {report.files} in {report.containers} containers")
        print(f"end to end (write -> archived) {end_to_end:8.0f} files/s  ({archive_seconds:.2f} s)")
        print(f"packing baseline, no spoolq    {baseline:8.0f} files/s  ({baseline_seconds:.2f} s)")
        print(f"ratio end to end / baseline    {end_to_end / baseline:8.3f}")
        packing_share = report.packing_seconds / (archive_seconds * args.workers)
        print(f"workers' time packing+copying  {report.packing_seconds:8.2f} s (all workers, archive+stage)")
        print(f"share of worker time packing   {packing_share:8.1%}  (the rest: spoolq, policy, waiting)")
        print(f"group policy                   max_files={ENGINE['max_files']} max_age={ENGINE['max_age']} s")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
