"""The operator side of ``spoolq run``: log formats, sd_notify, and one-line errors."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from spoolq.daemon import sdnotify
from tests.conftest import cli_env

pytestmark = pytest.mark.timeout(30)


def start_run(tmp_path, *options, **env):
    """``spoolq run`` on a configuration without components, stderr in a file."""
    config = tmp_path / "spoolq.toml"
    config.write_text(f'root = "{tmp_path / "root"}"\n')
    log_path = tmp_path / "run.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "spoolq", "-c", str(config), "run", *options],
            stderr=log_file,
            env=cli_env(**env),
        )
    return process, log_path


def wait_for_text(path, text, timeout=15):
    deadline = time.monotonic() + timeout
    while text not in path.read_text():
        assert time.monotonic() < deadline, path.read_text()
        time.sleep(0.02)


def stop(process) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=15)


def test_json_logs_are_one_object_per_line(tmp_path):
    process, log_path = start_run(tmp_path, "--log-json")
    wait_for_text(log_path, "components ready")
    assert stop(process) == 0
    entries = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert {"time", "level", "logger", "message", "pid"} <= set(entries[0])
    assert ("warning", "no enabled components in the configuration") in [
        (e["level"], e["message"]) for e in entries
    ]
    assert entries[-1]["message"] == "all components stopped"


def test_plain_logs_carry_level_names(tmp_path):
    process, log_path = start_run(tmp_path)
    wait_for_text(log_path, "components ready")
    assert stop(process) == 0
    assert " WARNING spoolq.supervisor: no enabled components" in log_path.read_text()


def test_journal_logs_carry_sd_daemon_priorities(tmp_path):
    log_path = tmp_path / "run.log"
    log_path.touch()
    info = os.stat(log_path)
    process, log_path = start_run(tmp_path, JOURNAL_STREAM=f"{info.st_dev}:{info.st_ino}")
    wait_for_text(log_path, "components ready")
    assert stop(process) == 0
    lines = log_path.read_text().splitlines()
    assert "<4>spoolq.supervisor: no enabled components in the configuration" in lines
    assert "<6>spoolq.supervisor: all components stopped" in lines


def test_ready_with_no_components_is_immediate(tmp_path):
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(15)
        process, _ = start_run(tmp_path, NOTIFY_SOCKET=address)
        assert sock.recv(4096) == b"READY=1\nSTATUS=0 components running"
        assert stop(process) == 0


def test_notify_reaches_an_abstract_socket(monkeypatch):
    name = f"spoolq-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify.notify("STATUS=testing", "READY=1")
        assert sock.recv(100) == b"STATUS=testing\nREADY=1"


def test_notify_without_a_manager_does_nothing(monkeypatch, tmp_path):
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not sdnotify.notify("READY=1")
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "gone.sock"))
    assert not sdnotify.notify("READY=1")  # logged, not raised


def test_run_without_a_configuration_file_is_one_line(cli, tmp_path):
    result = cli("--root", str(tmp_path), "run", cwd=tmp_path)
    assert result.returncode == 4
    assert result.stderr.decode() == (
        "spoolq: error: spoolq run needs a configuration file: give --config or set SPOOLQ_CONFIG\n"
    )


def test_components_log_in_the_format_run_was_given(tmp_path):
    config = tmp_path / "spoolq.toml"
    config.write_text(f'root = "{tmp_path / "root"}"\n[components.pe]\nhandler = "echo"\n')
    log_path = tmp_path / "run.log"
    with open(log_path, "wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "spoolq", "-c", str(config), "run", "--log-json"],
            stderr=log_file,
            env=cli_env(),
        )
    wait_for_text(log_path, "all 1 component ready")
    assert stop(process) == 0
    entries = [json.loads(line) for line in log_path.read_text().splitlines()]
    pids = {e["logger"].split(".")[1]: e["pid"] for e in entries}
    assert pids["supervisor"] == process.pid
    assert pids["component"] != process.pid  # the child's own lines, as JSON too
