"""Every daemon's exit code on signals follows the README's table, one rule for all.

0 after a SIGTERM that drained; 130 after a SIGINT (drained or not) or after a
second signal.  Each daemon runs as an operator runs it and gets real signals.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from watch_helpers import Watcher, recorded

from spoolq.message import Message
from spoolq.spool import SpoolRoot
from spoolq.testbed.shipping import root_of, unique, write_node_config
from tests.conftest import cli_env
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(120)
RECORD = "tests.watch_handlers:record"


def spoolq(*args: str, log: Path) -> subprocess.Popen:
    """``spoolq ARGS`` in the background, its stderr in ``log``."""
    with open(log, "wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "spoolq", *args],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=cli_env(),
            # As from a terminal: a test run started in the background ignores SIGINT,
            # and its children would inherit that.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )


def stopped_by(process: subprocess.Popen, *signals: int) -> int:
    for number in signals:
        process.send_signal(number)
    try:
        return process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


# -- tail -f ---------------------------------------------------------------------------


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_tail_follow(root_dir, tmp_path, signum, code):
    spool = SpoolRoot(root_dir).spool("pe")
    spool.put(Message.new("T", "shown first"))
    log = tmp_path / "tail.log"
    with open(tmp_path / "out", "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "spoolq", "--root", str(root_dir), "tail", "-f", "pe"],
            stdout=out,
            stderr=open(log, "wb"),  # noqa: SIM115  (closed with the process)
            env=cli_env(),
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    wait_until(lambda: b"shown first" in (tmp_path / "out").read_bytes(), what="tail following")
    assert stopped_by(process, signum) == code, log.read_text()
    assert "Traceback" not in log.read_text()


# -- watch ---------------------------------------------------------------------------


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_watch_first_signal_drains(root_dir, tmp_path, signum, code):
    watcher = Watcher(root_dir, "pe", "--handler", "noop", log=tmp_path / "watch.log")
    try:
        assert stopped_by(watcher.process, signum) == code
        assert "drained" in watcher.stderr()
    finally:
        watcher.close()


def test_watch_second_signal_stops_at_once_with_130(root_dir, tmp_path):
    seen, started = tmp_path / "seen", tmp_path / "started"
    watcher = Watcher(
        root_dir, "pe", "--handler", RECORD, "-o", f"record={seen}", "-o", f"started={started}",
        "-o", "sleep=30", log=tmp_path / "watch.log",
    )  # fmt: skip
    try:
        SpoolRoot(root_dir).spool("pe").put(Message.new("JOB", "very slow"))
        wait_until(lambda: recorded(started), what="the handler started")
        watcher.signal(signal.SIGTERM)
        wait_until(lambda: "draining" in watcher.stderr(), what="draining")
        assert stopped_by(watcher.process, signal.SIGTERM) == 130
    finally:
        watcher.close()


# -- run -------------------------------------------------------------------------------


def _run(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    config = tmp_path / "spoolq.toml"
    config.write_text(
        f'root = "{tmp_path / "root"}"\n[components.pe]\nspool = "pe"\nhandler = "{RECORD}"\n'
        f'options = {{ record = "{tmp_path / "seen"}", started = "{tmp_path / "started"}", sleep = "30" }}\n'
    )
    log = tmp_path / "run.log"
    process = spoolq("-c", str(config), "run", log=log)
    wait_until(lambda: "components ready" in log.read_text() or "component ready" in log.read_text(), 30)
    return process, log


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_run_first_signal_drains(tmp_path, signum, code):
    process, log = _run(tmp_path)
    assert stopped_by(process, signum) == code, log.read_text()
    assert "all components stopped" in log.read_text()


def test_run_second_signal_forces_with_130(tmp_path):
    process, log = _run(tmp_path)
    SpoolRoot(tmp_path / "root").spool("pe").put(Message.new("JOB", "very slow"))
    wait_until(lambda: recorded(tmp_path / "started"), what="the handler started")
    process.send_signal(signal.SIGTERM)
    wait_until(lambda: "draining" in log.read_text(), what="draining")
    assert stopped_by(process, signal.SIGTERM) == 130
    assert "forced stop" in log.read_text()


# -- ship and receive ------------------------------------------------------------------


def _shipper(tmp_path: Path, broker, command: str) -> tuple[subprocess.Popen, Path, Path]:
    config = write_node_config(tmp_path / command, unique(command[0]), broker)
    name = "out" if command == "ship" else "in"
    log = tmp_path / f"{command}.log"
    process = spoolq("--config", str(config), command, "--shipper", name, log=log)
    status = root_of(config).path + f"/.shippers/{name}.json"
    wait_until(lambda: Path(status).exists() and "connected" in Path(status).read_text(), 30, "connected")
    return process, config, log


@pytest.mark.parametrize("command", ["ship", "receive"])
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_shipper_first_signal_drains(broker, tmp_path, command, signum, code):
    process, _config, log = _shipper(tmp_path, broker, command)
    assert stopped_by(process, signum) == code, log.read_text()[-1500:]


def test_ship_second_signal_while_waiting_for_receipts_exits_130(broker, tmp_path):
    """The broker, frozen, sends no receipt: the drain waits for it, and a second signal ends it."""
    process, config, log = _shipper(tmp_path, broker, "ship")
    outgoing = root_of(config).spool("outgoing")
    with broker.frozen():
        outgoing.put(Message.new("x", "held", to=f"md@{unique('b')}"))
        status = Path(root_of(config).path) / ".shippers" / "out.json"
        # Locked is not yet sent (the claimer locks ahead of the sender): wait for the status.
        wait_until(lambda: json.loads(status.read_text()).get("in_flight") == 1, 30, "a send in flight")
        process.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # the first signal is taken; the drain waits for the receipt
        assert process.poll() is None, log.read_text()[-1500:]
        assert stopped_by(process, signal.SIGTERM) == 130


# -- udp-proxy -------------------------------------------------------------------------


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_udp_proxy(root_dir, tmp_path, signum, code):
    with open(tmp_path / "out", "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "spoolq", "--root", str(root_dir), "udp-proxy", "--listen", "127.0.0.1:0",
             "--spool", "lmd"],
            stdout=out, stderr=subprocess.PIPE, env=cli_env(),
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )  # fmt: skip
    wait_until(lambda: b"listening" in (tmp_path / "out").read_bytes(), 30, "udp-proxy listening")
    assert stopped_by(process, signum) == code
