"""A running Enstore site for end-to-end tests: real spools, components served in threads."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from spoolq.catalogue import timer
from spoolq.demo.runner import SpoolServer, serve_all, stop_all
from spoolq.handlers.migration_dispatcher import MigrationDispatcher
from spoolq.handlers.migration_worker import MigrationWorker
from spoolq.handlers.policy_engine import PolicyEngine
from spoolq.root import SpoolRoot
from spoolq.writers.disk_mover import DiskMover


class Site:
    """Spool root, cache and archive under ``base``; components started on demand."""

    def __init__(self, base: str):
        self.root = SpoolRoot(os.path.join(base, "root"), durable=False)
        self.cache = os.path.join(base, "cache")
        self.archive = os.path.join(base, "archive")
        self.mover = DiskMover(self.root, self.cache, self.archive)
        self.servers: list[SpoolServer] = []

    def start_engine(self, **options) -> None:
        options = {"max_files": 10, "max_age": 60, "stage_delay": 0.1, **options}
        self.servers += serve_all(
            self.root, [("pe", "pe", PolicyEngine(options)), ("pe", "pe_reply", PolicyEngine(options))]
        )

    def start_dispatcher(self, **options) -> None:
        options = {"silence": 60, **options}
        plan = [("md", "md", MigrationDispatcher(options)), ("md", "md_reply", MigrationDispatcher(options))]
        self.servers += serve_all(self.root, plan)

    def start_worker(self, worker_id: str, **options) -> None:
        handler = MigrationWorker(
            {"worker_id": worker_id, "archive": self.archive, "cache": self.cache, **options}
        )
        plan = [(f"mw_{worker_id}", "mw", handler), (f"mw_{worker_id}", f"mw_{worker_id}", handler)]
        self.servers += serve_all(self.root, plan)

    def start_all(self, workers: int = 2, **engine_options) -> None:
        self.start_engine(**engine_options)
        self.start_dispatcher()
        for n in range(1, workers + 1):
            self.start_worker(f"w{n}")

    def stop(self) -> None:
        stop_all(self.servers)
        self.servers = []

    def tick(self) -> None:
        self.root.spool("pe").put(timer.tick())
        self.root.spool("md").put(timer.tick())

    def wait(self, done: Callable[[], bool], timeout: float = 20, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            self.tick()
            time.sleep(0.1)

    def archived_count(self) -> int:
        records = os.path.join(self.archive, ".files")
        return len(os.listdir(records)) if os.path.isdir(records) else 0

    def messages(self, spool: str) -> list:
        target = self.root.spool(spool)
        return [target.get(name) for name in target.names()]
