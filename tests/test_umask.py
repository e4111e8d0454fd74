"""The configuration's umask: daemons create spools and files without the bits it masks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli_env

from spoolq.config import load_config
from spoolq.errors import ConfigError
from spoolq.message import Message
from spoolq.spool import SpoolRoot
from tests.waiting import wait_until


def config_with(tmp_path: Path, line: str) -> str:
    path = tmp_path / "spoolq.toml"
    path.write_text(f'root = "root"\n{line}\n')
    return str(path)


@pytest.mark.parametrize(("line", "umask"), [("", None), ('umask = "0027"', 0o027), ("umask = 0o077", 0o077)])
def test_umask_is_read_as_octal(tmp_path, line, umask):
    assert load_config(config_with(tmp_path, line)).umask == umask


@pytest.mark.parametrize("value", ['"027x"', '"1777"', "-1", "true", '""'])
def test_a_bad_umask_is_one_error_naming_the_key(tmp_path, value):
    with pytest.raises(ConfigError, match="umask"):
        load_config(config_with(tmp_path, f"umask = {value}"))


def test_a_daemon_started_with_umask_000_creates_spools_and_files_without_world_bits(tmp_path):
    config = config_with(tmp_path, 'umask = "0027"')
    root = SpoolRoot(tmp_path / "root")
    root.spool("pe").put(Message.new("JOB", "x"))
    watcher = subprocess.Popen(
        [sys.executable, "-m", "spoolq", "-c", config, "watch", "pe", "--handler", "echo"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=cli_env(),
        preexec_fn=lambda: os.umask(0),
    )
    try:
        reply = tmp_path / "root" / "pe_reply"
        wait_until(lambda: reply.is_dir() and SpoolRoot(tmp_path / "root").spool("pe_reply").count() == 1)
    finally:
        watcher.send_signal(signal.SIGTERM)
        watcher.wait(30)
    created = [reply, *reply.rglob("*")]
    assert len(created) >= 3  # the spool, an intermediate directory, the reply
    assert {path.name: oct(path.stat().st_mode & 0o7) for path in created if path.stat().st_mode & 0o7} == {}


def test_the_state_and_metrics_files_a_daemon_writes_follow_its_umask(tmp_path):
    config = config_with(tmp_path, 'umask = "0027"')
    root = tmp_path / "root"
    SpoolRoot(root).spool("pe").put(Message.new("JOB", "x"))
    watcher = subprocess.Popen(
        [sys.executable, "-m", "spoolq", "-c", config, "watch", "pe", "--handler", "echo"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=cli_env(),
        preexec_fn=lambda: os.umask(0),
    )
    try:
        wait_until(lambda: (root / ".metrics" / "pe.prom").exists(), 30, "the metrics file written")
    finally:
        watcher.send_signal(signal.SIGTERM)
        watcher.wait(30)
    written = [p for p in [*(root / ".metrics").rglob("*"), *(root / ".state").rglob("*")] if p.is_file()]
    assert written
    assert {
        str(p.relative_to(root)): oct(p.stat().st_mode & 0o7) for p in written if p.stat().st_mode & 0o7
    } == {}
