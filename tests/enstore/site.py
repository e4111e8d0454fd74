"""A running Enstore site for end-to-end tests: real spools, real Components in this process."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from spoolq.component import Component, timer
from spoolq.config import ComponentConfig
from spoolq.enstore.disk_mover import DiskMover
from spoolq.spool import SpoolRoot


class Site:
    """Spool root, cache and archive under ``base``; components started on demand."""

    def __init__(self, base: str):
        self.root = SpoolRoot(os.path.join(base, "root"), durable=False)
        self.cache = os.path.join(base, "cache")
        self.archive = os.path.join(base, "archive")
        self.mover = DiskMover(self.root, self.cache, self.archive)
        self.components: list[Component] = []

    def serve(self, name: str, spool: str, handler: str, options: dict) -> None:
        config = ComponentConfig(name=name, spool=spool, handler=handler, options=options, lock_timeout=600)
        component = Component(config, self.root, rescan_interval=1.0)
        component.start()
        assert component.ready.wait(10), f"{name} did not get ready"
        self.components.append(component)

    def start_engine(self, **options) -> None:
        options = {"max_files": 10, "max_age": 60, "stage_delay": 0.1, **options}
        self.serve("pe", "pe", "policy_engine", options)
        self.serve("pe_reply", "pe_reply", "policy_engine", options)

    def start_dispatcher(self, **options) -> None:
        options = {"silence": 60, **options}
        self.serve("md", "md", "migration_dispatcher", options)
        self.serve("md_reply", "md_reply", "migration_dispatcher", options)

    def start_worker(self, worker_id: str, **options) -> None:
        options = {"worker_id": worker_id, "archive": self.archive, "cache": self.cache, **options}
        self.serve(f"mw_{worker_id}_work", "mw", "migration_worker", options)
        self.serve(f"mw_{worker_id}", f"mw_{worker_id}", "migration_worker", options)

    def start_all(self, workers: int = 2, **engine_options) -> None:
        self.start_engine(**engine_options)
        self.start_dispatcher()
        for n in range(1, workers + 1):
            self.start_worker(f"w{n}")

    def stop(self) -> None:
        for component in self.components:
            component.drain()
        for component in self.components:
            assert component.join(10), f"{component.config.name} did not end"
        self.components = []

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
