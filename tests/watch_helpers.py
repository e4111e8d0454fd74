"""Helpers for watcher tests: wait on a condition with a deadline, run `spoolq watch`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from conftest import cli_env


def wait_for(condition: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> object:
    """Poll ``condition`` until it is truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


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
        wait_for(lambda: "ready" in self.stderr() or self.process.poll() is not None, what="watcher ready")
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
