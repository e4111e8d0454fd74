"""The demo scenario: write, aggregate, archive, purge, stage back, verify every byte.

Layout under the demo directory (default ``./spool``)::

    spool/.spoolq-demo    marker: only a tree carrying it is ever wiped
    spool/root/           the spool root (pe, pe_reply, md, md_reply, mw, mw_<id>, .state)
    spool/cache/          the disk cache
    spool/archive/        the archive standing in for tape (containers, .files records)
"""

from __future__ import annotations

import os
import random
import shutil
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from spoolq.catalogue import dispatcher, timer
from spoolq.demo.runner import SpoolServer, handled_counts, serve_all, stop_all
from spoolq.enstore import filedb
from spoolq.enstore.cachefs import conventional_entry
from spoolq.errors import SpoolqError
from spoolq.handlers.migration_dispatcher import MigrationDispatcher
from spoolq.handlers.migration_worker import MigrationWorker
from spoolq.handlers.policy_engine import PolicyEngine
from spoolq.root import SpoolRoot
from spoolq.writers.disk_mover import DiskMover, Family

MARKER = ".spoolq-demo"
FAMILIES = (
    Family(file_family="raw"),
    Family(file_family="reco"),
    Family(storage_group="sim", file_family="mc"),
)


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


def prepare(directory: str) -> dict[str, str]:
    """Wipe the previous demo tree (only if it carries the marker) and lay out a new one."""
    if os.path.exists(directory) and os.listdir(directory):
        if not os.path.exists(os.path.join(directory, MARKER)):
            raise SpoolqError(f"{directory}: exists and is not a demo tree; choose another --root")
        shutil.rmtree(directory)
    paths = {name: os.path.join(directory, name) for name in ("root", "cache", "archive")}
    for path in paths.values():
        os.makedirs(path)
    open(os.path.join(directory, MARKER), "w").close()
    return paths


def start_components(
    root: SpoolRoot, cache: str, archive: str, workers: int, pe_options: dict
) -> list[SpoolServer]:
    """The Policy Engine, the Migration Dispatcher and ``workers`` Migration Workers."""
    plan = [
        ("pe", "pe", PolicyEngine(pe_options)),
        ("pe", "pe_reply", PolicyEngine(pe_options)),
        ("md", "md", MigrationDispatcher({"part_files": 500})),
        ("md", "md_reply", MigrationDispatcher({"part_files": 500})),
    ]
    for n in range(1, workers + 1):
        worker = MigrationWorker({"worker_id": f"w{n}", "archive": archive, "cache": cache})
        plan += [(f"mw{n}", "mw", worker), (f"mw{n}", f"mw_w{n}", worker)]
    return serve_all(root, plan)


def wait_until(done: Callable[[], bool], timeout: float, tick: Callable[[], None], what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise SpoolqError(f"demo: timed out waiting for {what}")
        tick()
        time.sleep(0.1)


def run_demo(
    directory: str, files: int = 2000, workers: int = 2, say: Callable[[str], None] = print
) -> DemoReport:
    """Run the whole scenario; the report says what was lost or corrupted (nothing, we hope)."""
    paths = prepare(directory)
    root = SpoolRoot(paths["root"], durable=False)
    mover = DiskMover(root, paths["cache"], paths["archive"])
    pe_options = {"max_files": 200, "max_age": 1.0, "stage_delay": 0.3}
    servers = start_components(root, paths["cache"], paths["archive"], workers, pe_options)
    report, started = DemoReport(), time.monotonic()
    last_tick = [0.0]

    def tick() -> None:  # age and silence checks need time to pass as messages
        if time.monotonic() - last_tick[0] >= 0.5:
            root.spool("pe").put(timer.tick())
            root.spool("md").put(timer.tick())
            last_tick[0] = time.monotonic()

    try:
        expected = _write_files(mover, files, report, say)
        report.seconds["write"] = time.monotonic() - started
        _wait_with_progress(paths["archive"], len(expected), tick, say)
        report.seconds["archive"] = time.monotonic() - started
        purged_ids = _purge(root, mover, expected, report, tick)
        staged_ids = _stage_back(root, mover, expected, purged_ids, report, tick)
        report.seconds["total"] = time.monotonic() - started
    finally:
        stop_all(servers)
    _verify(paths, expected, (set(expected) - set(purged_ids)) | set(staged_ids), report)
    report.messages = dict(handled_counts(servers))
    report.packing_seconds = sum(s.handler.packing_seconds for s in servers if s.spool_name == "mw")
    return report


def _write_files(mover: DiskMover, count: int, report: DemoReport, say) -> dict[str, bytes]:
    rng = random.Random(5)
    expected = {}
    for n in range(count):
        file_id = f"{n:024X}"
        data = rng.randbytes(rng.randrange(200, 4000))
        mover.write(file_id, f"/pnfs/demo/file{n}.dat", data, FAMILIES[n % len(FAMILIES)])
        expected[file_id] = data
        report.bytes += len(data)
    report.files = count
    say(f"wrote {count} files ({report.bytes} bytes) into the cache\n")
    return expected


def _wait_with_progress(archive: str, total: int, tick, say) -> None:
    """Until every file has its archive record (records are written after the container)."""
    records = os.path.join(archive, filedb.FILES_DIR)
    shown = [-1]

    def progress() -> bool:
        count = len(os.listdir(records)) if os.path.isdir(records) else 0
        if count != shown[0]:
            say(f"\rarchived {count}/{total} files")
            shown[0] = count
        return count >= total

    wait_until(progress, 90, tick, "the files to be archived")
    say("\n")


def _purge(root: SpoolRoot, mover: DiskMover, expected: dict, report: DemoReport, tick) -> list[str]:
    ids = list(expected)[: len(expected) // 2]
    tickets = [mover.ticket(i, f"/pnfs/demo/{i}", len(expected[i]), Family()) for i in ids]
    root.spool("md").put(dispatcher.purge(tickets, reply_to="demo_reply"))
    replies = root.spool("demo_reply")
    wait_until(lambda: replies.count() > 0, 60, tick, "the purge")
    report.purged = len(ids)
    return ids


def _stage_back(root, mover: DiskMover, expected, purged: list[str], report: DemoReport, tick) -> list[str]:
    wanted = purged[:: max(1, len(purged) // 100)]
    for file_id in wanted:
        if mover.read(file_id, "", reply_spool="demo_reads") is not None:
            report.corrupted.append(f"{file_id}: still cached after purge")
    reads = root.spool("demo_reads")
    wait_until(lambda: reads.count() >= len(wanted), 60, tick, "the staged files")
    report.staged = len(wanted)
    return wanted


def _verify(paths: dict, expected: dict, cached_ids: set[str], report: DemoReport) -> None:
    """Every byte, from its container in every case, and from the cache when cached.

    ``cached_ids`` must be in the cache (never purged, or staged back).
    """
    containers = set()
    for file_id, data in expected.items():
        record = filedb.locate(paths["archive"], file_id)
        if record is None:
            report.lost.append(file_id)
            continue
        containers.add(record["container"])
        with tarfile.open(os.path.join(paths["archive"], record["container"])) as tar:
            if tar.extractfile(record["member"]).read() != data:
                report.corrupted.append(f"{file_id}: archived copy differs")
        cached = os.path.join(paths["cache"], *_cache_parts(file_id))
        try:
            with open(cached, "rb") as handle:
                if handle.read() != data:
                    report.corrupted.append(f"{file_id}: cached copy differs")
        except FileNotFoundError:
            if file_id in cached_ids:
                report.lost.append(f"{file_id}: should be in the cache")
    report.containers = len(containers)


def _cache_parts(file_id: str) -> list[str]:
    entry = conventional_entry("/", file_id)
    return [*entry["path"].split("/"), entry["name"]]
