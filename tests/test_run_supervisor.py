"""``spoolq run``: real component processes started, restarted, drained, forced and reloaded."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spoolq.message import Message
from spoolq.root import SpoolRoot
from tests.conftest import REPO, cli_env

SUPERVISE = REPO / "tests" / "supervised" / "supervise.py"

pytestmark = pytest.mark.timeout(60)


def component_table(name: str) -> str:
    return f'[components.{name}]\nhandler = "echo"\n'


class Run:
    """One ``spoolq run`` process, its log file, and the spool root it serves."""

    def __init__(self, tmp_path: Path, names: tuple[str, ...], **env: str):
        self.tmp_path = tmp_path
        self.config = tmp_path / "spoolq.toml"
        self.write_config(*names)
        self.root = SpoolRoot(tmp_path / "root")
        self.log_path = tmp_path / "run.log"
        self.log_file = open(self.log_path, "wb")  # noqa: SIM115  (closed in stop)
        self.process = subprocess.Popen(
            [sys.executable, str(SUPERVISE), str(self.config), self.root.path],
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

    def ask(self, name: str, body: str = "hello", timeout: float = 15) -> Message:
        """Put a request into spool ``name``; return the reply from ``name_reply``."""
        request = Message.new("ping", body)
        self.root.spool(name).put(request)
        replies = self.root.spool(f"{name}_reply")
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
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.log_file.close()


@pytest.fixture
def start_run(tmp_path):
    runs: list[Run] = []

    def start(*names: str, **env: str) -> Run:
        run = Run(tmp_path, names, **env)
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.stop()


def test_every_component_starts_and_handles_a_message(start_run):
    run = start_run("pe", "archive")
    assert run.ask("pe").body == "hello by pe"
    assert run.ask("archive").body == "hello by archive"


def test_killed_component_is_restarted_with_a_logged_restart(start_run):
    run = start_run("pe", "archive")
    run.wait_for_log("all 2 components ready")
    first = run.pid_of("pe")
    os.kill(first, signal.SIGKILL)
    run.wait_for_log(r"component pe exited unexpectedly \(status -9\); restarting in [\d.]+ s \(restart 1\)")
    run.wait_for_log(r"started component pe \(pid \d+\)", count=2)
    assert run.pid_of("pe") != first
    assert run.ask("pe").body == "hello by pe"
    assert run.ask("archive").body == "hello by archive"  # the other one never noticed


def test_repeated_crashes_back_off(start_run):
    run = start_run("pe")
    for attempt in (1, 2):
        run.wait_for_log(r"started component pe", count=attempt)
        run.wait_for_log("is ready", count=attempt)
        os.kill(run.pid_of("pe"), signal.SIGKILL)
    delays = [float(m.group(1)) for m in run.wait_for_log(r"restarting in ([\d.]+) s", count=2)]
    assert delays[1] == 2 * delays[0]


def test_sigterm_drains_in_flight_message_and_exits_0(start_run):
    run = start_run("pe")
    run.wait_for_log("all 1 components ready")
    run.root.spool("pe").put(Message.new("ping", "sleep 1"))
    wait_until(lambda: run.root.spool("pe").stats().locked == 1)
    run.signal(signal.SIGTERM)
    assert run.wait() == 0
    assert run.root.spool("pe").count() == 0  # the in-flight message was finished
    assert run.root.spool("pe_reply").count() == 1
    assert "all components stopped" in run.log()


def test_second_signal_forces_and_leaves_the_claim_locked(start_run):
    run = start_run("pe")
    run.wait_for_log("all 1 components ready")
    run.root.spool("pe").put(Message.new("ping", "sleep 30"))
    wait_until(lambda: run.root.spool("pe").stats().locked == 1)
    run.signal(signal.SIGINT)
    run.wait_for_log("draining 1 components")
    run.signal(signal.SIGINT)
    assert run.wait() == 130
    stats = run.root.spool("pe").stats()
    assert (stats.locked, stats.ready) == (1, 0)  # retried once the lock is stale
    assert "forced stop" in run.log()


def test_sighup_with_broken_file_keeps_running(start_run):
    run = start_run("pe")
    run.wait_for_log("all 1 components ready")
    run.config.write_text('[components.pe]\nhandler = "echo"\nworkers = 0\n')
    run.signal(signal.SIGHUP)
    run.wait_for_log(
        r"configuration reload failed, keeping the running configuration: .*components\.pe\.workers"
    )
    assert run.ask("pe").body == "hello by pe"
    assert run.process.poll() is None


def test_sighup_with_changed_file_applies_it(start_run):
    run = start_run("pe", "archive")
    run.wait_for_log("all 2 components ready")
    run.write_config("pe", "fresh")
    run.signal(signal.SIGHUP)
    run.wait_for_log("component archive removed from the configuration: stopping it")
    run.wait_for_log(r"component archive stopped \(status 0\)")
    assert run.ask("fresh").body == "hello by fresh"
    assert run.ask("pe").body == "hello by pe"
    run.write_config("pe", "fresh", extra='reply_spool = "fresh_answers"\n')
    run.signal(signal.SIGHUP)
    run.wait_for_log("component fresh changed: restarting it")
    run.wait_for_log(r"started component fresh \(pid \d+\)", count=2)
    run.signal(signal.SIGTERM)
    assert run.wait() == 0


def test_ready_is_notified_over_the_socket_after_every_component(start_run, tmp_path):
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(15)
        run = start_run("pe", "archive", NOTIFY_SOCKET=address)
        datagram = sock.recv(4096).decode()
        assert datagram == "READY=1\nSTATUS=2 components running"
        log = run.log()  # logged before the datagram went out
        assert "component pe is ready" in log and "component archive is ready" in log
        run.signal(signal.SIGTERM)
        assert sock.recv(4096) == b"STOPPING=1"
        assert run.wait() == 0


def wait_until(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.02)
