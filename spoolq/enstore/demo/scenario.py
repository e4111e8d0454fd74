"""The demo scenario: write, aggregate, archive, purge, stage back, verify every byte.

The components run as child processes of ``spoolq run`` (see
:mod:`spoolq.enstore.demo.site`, where ``pe`` and ``md`` are configured to tick
themselves); this process plays the Disk Mover and its users.  The steps are
public so that the demo across nodes (:mod:`spoolq.enstore.demo.across_nodes`)
runs the same workflow, with addresses that cross the broker.
"""

from __future__ import annotations

import collections
import json
import os
import random
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from spoolq.enstore import filedb
from spoolq.enstore.cachefs import cached_path
from spoolq.enstore.catalogue import dispatcher
from spoolq.enstore.demo import site
from spoolq.enstore.disk_mover import CacheFile, DiskMover, Family
from spoolq.enstore.state import STATE_DIR
from spoolq.errors import SpoolqError
from spoolq.spool import SpoolRoot

FAMILIES = (
    Family(file_family="raw"),
    Family(file_family="reco"),
    Family(storage_group="sim", file_family="mc"),
)
ENGINE = {"max_files": 200, "max_age": 1.0, "stage_delay": 0.3}


@dataclass
class DemoReport:
    files: int = 0
    bytes: int = 0
    containers: int = 0
    purged: int = 0
    staged: int = 0
    lost: list[str] = field(default_factory=list)
    corrupted: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    messages: dict[str, int] = field(default_factory=dict)
    packing_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.lost and not self.corrupted


def wait_until(done: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            logs = "run.log, or nodes/NODE/run.log across nodes"
            raise SpoolqError(f"demo: timed out waiting for {what} (see the demo's {logs})")
        time.sleep(0.05)


def run_demo(
    directory: str,
    files: int = 2000,
    workers: int = 2,
    say: Callable[[str], None] = print,
    durable: bool = False,
) -> DemoReport:
    """Run the whole scenario; the report says what was lost or corrupted (nothing, we hope)."""
    paths = site.prepare(directory)
    site.write_config(paths, workers, ENGINE, durable)
    root = SpoolRoot(paths["root"], durable=durable)
    mover = DiskMover(root, paths["cache"], paths["archive"])
    report = DemoReport()
    process = site.start_run(paths)
    started = time.monotonic()
    try:
        expected = write_files(mover, files, report, say)
        report.seconds["write"] = time.monotonic() - started
        wait_for_archive(paths["archive"], len(expected), say)
        report.seconds["archive"] = time.monotonic() - started
        purged = purge_half(root, mover, expected, report)
        staged = stage_back(root, mover, purged, report)
        report.seconds["total"] = time.monotonic() - started
    finally:
        site.stop_run(process)
    verify(paths["archive"], mover, expected, (set(expected) - set(purged)) | set(staged), report)
    collect_counts([paths["root"]], report)
    return report


def write_files(mover: DiskMover, count: int, report: DemoReport, say) -> dict[str, bytes]:
    rng = random.Random(5)
    expected = {}
    for n in range(count):
        file_id = f"{n:024X}"
        data = rng.randbytes(rng.randrange(200, 4000))
        mover.write(CacheFile(file_id, f"/pnfs/demo/file{n}.dat", data, FAMILIES[n % len(FAMILIES)]))
        expected[file_id] = data
        report.bytes += len(data)
    report.files = count
    say(f"wrote {count} files ({report.bytes} bytes) into the cache\n")
    return expected


def wait_for_archive(
    archive: str, total: int, say, timeout: float = 100, more: Callable[[], str] = lambda: ""
) -> None:
    """Until every file has its archive record (records are written after the container).

    ``more()`` adds to the progress line (the demo across nodes: what each node shipped).
    """
    records = os.path.join(archive, filedb.FILES_DIR)
    shown = [""]

    def progress() -> bool:
        count = len(os.listdir(records)) if os.path.isdir(records) else 0
        line = f"\rarchived {count}/{total} files{more()}"
        if line != shown[0]:
            say(line)
            shown[0] = line
        return count >= total

    wait_until(progress, timeout, "the files to be archived")
    say("\n")


def purge_half(
    root: SpoolRoot,
    mover: DiskMover,
    expected: dict,
    report: DemoReport,
    md: str = "md",
    node: str | None = None,
    timeout: float = 60,
) -> list[str]:
    """Ask the dispatcher (at address ``md``) to purge half of the cache; wait for its MDR_PURGED.

    The answer comes to the spool ``demo_reply`` of ``root``, which is on ``node``.
    """
    ids = list(expected)[: len(expected) // 2]
    tickets = [mover.ticket(i, f"/pnfs/demo/{i}", len(expected[i]), Family()) for i in ids]
    mover.emit(md, dispatcher.purge(tickets, reply_to=address("demo_reply", node)))
    replies = root.spool("demo_reply")
    wait_until(lambda: replies.count() > 0, timeout, "the purge")
    answer = replies.get(next(iter(replies.names())))
    if dispatcher.read_reply(answer)["status"][0] != "ok":
        raise SpoolqError(f"demo: purge failed: {answer.payload()['status']}")
    report.purged = len(ids)
    return ids


def stage_back(
    root: SpoolRoot,
    mover: DiskMover,
    purged: list[str],
    report: DemoReport,
    node: str | None = None,
    timeout: float = 60,
) -> list[str]:
    """Read every tenth purged file: each miss is staged back from its container.

    The answers come to the spool ``demo_reads`` of ``root``, which is on ``node``.
    """
    wanted = purged[::10]
    for file_id in wanted:
        if mover.read(file_id, "", reply_spool=address("demo_reads", node)) is not None:
            report.corrupted.append(f"{file_id}: still cached after the purge")
    reads = root.spool("demo_reads")
    wait_until(lambda: reads.count() >= len(wanted), timeout, "the staged files")
    for name in reads.names():
        status = reads.get(name).payload().get("status")
        if status != ["ok", ""]:
            report.corrupted.append(f"stage failed: {status}")
    report.staged = len(wanted)
    return wanted


def address(spool: str, node: str | None) -> str:
    """``spool`` on ``node`` as another node must write it (plain on a node without a name)."""
    return f"{spool}@{node}" if node else spool


def verify(archive: str, mover: DiskMover, expected: dict, cached_ids: set[str], report: DemoReport) -> None:
    """Every byte, from its container in every case, and from the cache when cached.

    ``cached_ids`` must be in the cache (never purged, or staged back).
    """
    containers = set()
    for file_id, data in expected.items():
        record = filedb.locate(archive, file_id)
        if record is None:
            report.lost.append(f"{file_id}: not archived")
            continue
        containers.add(record["container"])
        with tarfile.open(os.path.join(archive, record["container"])) as tar:
            if tar.extractfile(record["member"]).read() != data:
                report.corrupted.append(f"{file_id}: archived copy differs")
        try:
            with open(cached_path(mover.ticket(file_id, "", 0, Family())), "rb") as handle:
                if handle.read() != data:
                    report.corrupted.append(f"{file_id}: cached copy differs")
        except FileNotFoundError:
            if file_id in cached_ids:
                report.lost.append(f"{file_id}: should be in the cache")
    report.containers = len(containers)


def collect_counts(root_paths: list[str], report: DemoReport) -> None:
    """Messages handled by type, and packing time, from the components' state files on every node."""
    counts: collections.Counter[str] = collections.Counter()
    for root_path in root_paths:
        state_dir = os.path.join(root_path, STATE_DIR)
        for name in sorted(os.listdir(state_dir)) if os.path.isdir(state_dir) else ():
            if not name.endswith(".json"):
                continue
            with open(os.path.join(state_dir, name), encoding="utf-8") as handle:
                state = json.load(handle)
            counts.update(state.get("counts", {}))
            report.packing_seconds += state.get("packing_seconds", 0.0)
    report.messages = dict(counts)
