"""``spoolq top``: a live view of a root, run as a user runs it (a pipe, a terminal)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from conftest import cli_env
from watch_helpers import Watcher

from spoolq.cli.top_figures import look
from spoolq.message import Message
from spoolq.metrics.component import ComponentMetrics
from spoolq.metrics.file import MetricsFile, metrics_path
from spoolq.shippers.status import ShipperStatus, StatusFile
from spoolq.spool import SpoolRoot
from spoolq.spool.parking import park
from tests.waiting import wait_until


@pytest.fixture
def root(root_dir: Path, cli) -> SpoolRoot:
    assert cli("--root", str(root_dir), "init", "pe", "backlog", "outgoing").returncode == 0
    return SpoolRoot(root_dir)


def frames(stdout: bytes) -> list[list[str]]:
    """The plain output cut into frames: each starts with the same clock on every line."""
    cut: dict[str, list[str]] = {}
    for line in stdout.decode().splitlines():
        cut.setdefault(line.split(" ", 1)[0], []).append(line.split(" ", 1)[1])
    return list(cut.values())


def test_plain_lines_show_each_spool_and_who_serves_it(root, root_dir, tmp_path, cli):
    root.spool("backlog").put_many([Message.new("x", str(i)) for i in range(3)])
    park(root, "pe", b"not an envelope", "malformed")
    watcher = Watcher(root_dir, "pe", "--handler", "noop", log=tmp_path / "watch.log")
    try:
        wait_until((root_dir / ".metrics" / "pe.prom").exists, what="the metrics file")
        result = cli("--root", str(root_dir), "top", "--count", "2", "--interval", "1.1")
    finally:
        watcher.close()
    assert result.returncode == 0, result.stderr
    assert b"\x1b[" not in result.stdout, "no terminal: no escape codes"
    first, second = frames(result.stdout)
    backlog = next(line for line in first if line.startswith("spool backlog "))
    assert backlog.startswith("spool backlog depth=3 in=- out=- oldest="), "no rates before a second look"
    assert backlog.endswith("s parked=0")
    assert "spool pe depth=0 in=- out=- oldest=- parked=1" in first
    assert "watch pe spool=pe state=running" in first
    assert next(line for line in second if line.startswith("spool backlog ")).startswith(
        "spool backlog depth=3 in=0.0/s out=0.0/s oldest="
    )


def test_a_stopped_or_killed_component_and_a_waiting_or_failing_shipper_say_so(root, root_dir, tmp_path, cli):
    config = tmp_path / "spoolq.toml"
    config.write_text("metrics_interval = 0.1\n")  # a file unwritten for 0.3 s is stale
    killed = Watcher(root_dir, "pe", "--handler", "noop", log=tmp_path / "killed.log")
    stopped = Watcher(root_dir, "backlog", "--handler", "noop", log=tmp_path / "stopped.log")
    try:
        wait_until((root_dir / ".metrics" / "pe.prom").exists, what="the metrics file")
        killed.signal(signal.SIGKILL)
        stopped.signal(signal.SIGTERM)
        assert stopped.wait() == 0
    finally:
        killed.close()
        stopped.close()
    waiting = ShipperStatus("out", "ship", "outgoing", state="disconnected", last_error="connection refused")
    refused = ShipperStatus("in", "receive", "pe", state="login refused", last_error="login refused by a:1")
    for status in (waiting, refused):
        StatusFile(str(root_dir), status).maybe_write(force=True)
    time.sleep(0.5)
    result = cli("-c", str(config), "--root", str(root_dir), "top", "--once")
    assert result.returncode == 0, result.stderr
    (only,) = frames(result.stdout)
    assert "watch backlog spool=backlog state=stopped" in only
    stale = 'watch pe spool=pe state=stale reason="no metrics written for'
    assert any(line.startswith(stale) for line in only), only
    assert 'ship out spool=outgoing state=waiting reason="connection refused"' in only
    assert 'receive in spool=pe state=failing reason="login refused by a:1"' in only
    named = cli("-c", str(config), "--root", str(root_dir), "top", "--once", "outgoing")
    (outgoing,) = frames(named.stdout)
    assert [line.split(" ", 2)[:2] for line in outgoing] == [["spool", "outgoing"], ["ship", "out"]]


def test_rates_in_and_out_are_counted_between_two_looks(root, root_dir):
    metrics = ComponentMetrics("pe", "pe")
    path = metrics_path(str(root_dir), None, "pe")
    writer = MetricsFile(metrics, path, root.spool("pe"))
    writer.write()
    before = look(root, None, 60, ["pe"])
    root.spool("pe").put_many([Message.new("x", str(i)) for i in range(6)])
    for claim in list(root.spool("pe").claims())[:4]:
        claim.ack()
        metrics.handled.inc()
    metrics.parked.inc()  # what it parked was taken from the spool too
    writer.write()
    after = look(root, None, 60, ["pe"], before)
    elapsed = after.at - before.at
    (pe,) = after.spools
    assert pe.depth == 2
    assert pe.rate_out == pytest.approx(5 / elapsed)
    assert pe.rate_in == pytest.approx(7 / elapsed)
    (component,) = after.daemons
    assert component.state == "failing"
    assert component.reason == "parked 1 since the last look: spoolq ls --parked pe"


def test_a_counter_that_went_down_restarted_from_zero(root, root_dir):
    path = metrics_path(str(root_dir), None, "pe")
    first = ComponentMetrics("pe", "pe")
    first.handled.inc(50)
    MetricsFile(first, path, root.spool("pe")).write()
    before = look(root, None, 60, ["pe"])
    restarted = ComponentMetrics("pe", "pe")
    restarted.handled.inc(3)
    MetricsFile(restarted, path, root.spool("pe")).write()
    after = look(root, None, 60, ["pe"], before)
    assert after.spools[0].rate_out == pytest.approx(3 / (after.at - before.at))


def test_ctrl_c_ends_it_with_130(root, root_dir):
    process = subprocess.Popen(
        [sys.executable, "-m", "spoolq", "--root", str(root_dir), "top", "--interval", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(),
    )
    try:
        assert process.stdout is not None
        assert b" spool backlog depth=0 " in process.stdout.readline()
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 130
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert b"Traceback" not in process.stderr.read()


def test_a_spool_that_does_not_exist_is_named_with_exit_3(root, root_dir, cli):
    result = cli("--root", str(root_dir), "top", "--once", "nosuch")
    assert result.returncode == 3
    assert b"nosuch" in result.stderr


def test_on_a_terminal_one_table_is_drawn_in_place(root, root_dir):
    """A pseudo-terminal, as a user's: the rich table, redrawn; bounded by --count."""
    root.spool("backlog").put(Message.new("x", "y"))
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "spoolq", "--root", str(root_dir), "top", "--count", "2", "--interval", "0.3"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=cli_env(TERM="xterm-256color", COLUMNS="140", LINES="40"),
    )
    os.close(terminal)
    shown = b""
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            readable, _, _ = select.select([controller], [], [], 0.5)
            if readable:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # the terminal's other end closed: the process is gone
                    break
                if not chunk:
                    break
                shown += chunk
            elif process.poll() is not None:
                break
        assert process.wait(30) == 0, shown.decode(errors="replace")
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
            process.wait()
    text = shown.decode(errors="replace")
    assert "spoolq top" in text
    assert "┏" in text and "backlog" in text, "a table, drawn with box characters"
    assert text.count("┏") >= 2, "refreshed"
    assert "\x1b[1A" in text, "the second drawn over the first (cursor up), not below it"
    assert "0.0/s" in text, "the second has rates"
