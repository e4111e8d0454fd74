"""A ``spoolq`` daemon run through the real CLI, as an operator runs it, that can be killed and restarted.

The chaos run kills these with SIGKILL, as the kernel or an operator's
``kill -9`` would: no signal handler runs, no lock is released, no temporary
file is cleaned.  :meth:`Daemon.stop` is the polite end (SIGTERM, drain).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from spoolq.testbed.hosts import LOOPBACK, Host

STOP_GRACE = 30.0  # seconds a daemon may take to drain after SIGTERM


def spoolq_command() -> list[str]:
    """The ``spoolq`` console script beside this interpreter, else ``python -m spoolq``."""
    script = Path(sys.executable).with_name("spoolq")
    return [str(script)] if script.exists() else [sys.executable, "-m", "spoolq"]


class Daemon:
    """One ``spoolq`` daemon process that can be killed with SIGKILL and started again.

    ``runs_on`` is the host it runs on (:mod:`spoolq.testbed.hosts`); there
    too its pid is the daemon's own, so :meth:`kill` kills the daemon.
    """

    def __init__(self, name: str, args: list[str], log: Path, env: dict[str, str], runs_on: Host = LOOPBACK):
        self.name, self.args, self.log, self.env, self.runs_on = name, args, log, env, runs_on
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = self.runs_on.popen(
                [*spoolq_command(), *self.args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.log.parent,  # a directory of our own: nothing in it shadows the package
            )
        self.starts += 1

    def kill(self) -> None:
        """SIGKILL: no handler runs, no lock is released, no temporary file is cleaned."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> int | None:
        """SIGTERM, then wait for the drain; SIGKILL after :data:`STOP_GRACE`.  Its exit status."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def exits(self) -> int | None:
        """Its exit status when it ended by itself (a crash), else ``None``."""
        return None if self.process is None else self.process.poll()
