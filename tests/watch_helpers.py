"""Helpers for watcher tests: run `spoolq watch`, read what a recording handler wrote."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from conftest import cli_env

from tests.waiting import wait_until


def recorded(path: Path) -> list[str]:
    """Lines a recording handler appended to ``path``."""
    try:
        return path.read_text().splitlines()
    except FileNotFoundError:
        return []


class Watcher:
    """A ``spoolq watch`` process; its stderr is kept in a file for the assertions."""

    def __init__(self, root: Path, *args: str, log: Path):
        self.log = log
        self._stderr = open(log, "ab")  # noqa: SIM115  (kept open for the process)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "spoolq", "--root", str(root), "watch", *args],
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            env=cli_env(),
        )
        wait_until(lambda: "ready" in self.stderr() or self.process.poll() is not None, what="watcher ready")
        assert self.process.poll() is None, self.stderr()

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = 10.0) -> int:
        return self.process.wait(timeout)

    def close(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._stderr.close()
