"""Running ``spoolq run`` as an operator does, for the tests: its log, its spools, its signals."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from spoolq.message import Message
from spoolq.spool import SpoolRoot
from tests.conftest import cli_env


def component_table(name: str) -> str:
    return f'[components.{name}]\nhandler = "tests.run_handlers:tagged"\n'


class Run:
    """One ``spoolq run`` process (real ``spoolq watch`` children), its log, and its spool root."""

    def __init__(self, tmp_path: Path, names: tuple[str, ...], config: Path | None = None, **env: str):
        self.tmp_path = tmp_path
        if config is None:
            config = tmp_path / "spoolq.toml"
            config.write_text("".join(component_table(n) for n in names))
        self.config = config
        self.root_path = tmp_path / "root"
        self.root = SpoolRoot(self.root_path)
        self.log_path = tmp_path / "run.log"
        self.log_file = open(self.log_path, "wb")  # noqa: SIM115  (closed in stop)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "spoolq", "-c", str(self.config), "--root", self.root.path]
            + ["run", "--restart-cap", "1"],
            stderr=self.log_file,
            env=cli_env(**env),
        )

    def write_config(self, *names: str, extra: str = "") -> None:
        self.config.write_text("".join(component_table(n) for n in names) + extra)

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_for_log(self, pattern: str, count: int = 1, timeout: float = 15) -> list[re.Match]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = list(re.finditer(pattern, self.log()))
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"no {count} x {pattern!r} in the log:\n{self.log()}")

    def pid_of(self, name: str) -> int:
        return int(self.wait_for_log(rf"started component {name} \(pid (\d+)\)")[-1].group(1))

    def ask(self, name: str, body: str = "hello", timeout: float = 15, answers: str = "") -> Message:
        """Put a request into spool ``name``; return the answer from ``answers`` (``name_reply``)."""
        request = Message.new("ping", body)
        self.root.spool(name).put(request)
        replies = self.root.spool(answers or f"{name}_reply")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for claim in replies.claims():
                reply = claim.message()
                claim.ack()
                assert reply.correlation_id == request.message_id
                return reply
            time.sleep(0.02)
        raise AssertionError(f"no reply from {name}:\n{self.log()}")

    def signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = 20) -> int:
        return self.process.wait(timeout=timeout)

    def stop(self) -> None:
        """Force the run to end (a second SIGTERM kills every component), then wait for it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()  # the components get SIGTERM from the kernel then
                self.process.wait()
        self.log_file.close()


@contextmanager
def running(tmp_path: Path):
    """``start(*names, config=None, **env)`` starts a Run; every Run is killed at the end."""
    runs: list[Run] = []

    def start(*names: str, config: Path | None = None, **env: str) -> Run:
        run = Run(tmp_path, names, config, **env)
        runs.append(run)
        return run

    try:
        yield start
    finally:
        for run in runs:
            run.stop()
