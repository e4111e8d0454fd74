"""``spoolq run``: real component processes started, restarted, drained, forced and reloaded."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest

from spoolq.message import Message
from tests.run_helpers import component_table, running
from tests.scheduling import context_switches
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def start_run(tmp_path):
    with running(tmp_path) as start:
        yield start


def test_every_component_starts_and_handles_a_message(start_run):
    run = start_run("pe", "archive")
    assert run.ask("pe").body == "hello by pe"
    assert run.ask("archive").body == "hello by archive"


def test_an_idle_supervisor_and_its_children_never_wake(start_run):
    run = start_run("pe", "archive")
    run.wait_for_log("all 2 components ready")
    pids = [run.process.pid, run.pid_of("pe"), run.pid_of("archive")]
    time.sleep(0.5)  # the start-up's last steps settle
    before = [context_switches(pid) for pid in pids]
    time.sleep(3)
    assert [context_switches(pid) for pid in pids] == before


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
    run.wait_for_log("all 1 component ready")
    run.root.spool("pe").put(Message.new("ping", "sleep 1"))
    wait_until(lambda: run.root.spool("pe").stats().locked == 1)
    run.signal(signal.SIGTERM)
    assert run.wait() == 0
    assert run.root.spool("pe").count() == 0  # the in-flight message was finished
    assert run.root.spool("pe_reply").count() == 1
    assert "all components stopped" in run.log()


def test_second_signal_forces_and_leaves_the_claim_locked(start_run):
    run = start_run("pe")
    run.wait_for_log("all 1 component ready")
    run.root.spool("pe").put(Message.new("ping", "sleep 30"))
    wait_until(lambda: run.root.spool("pe").stats().locked == 1)
    run.signal(signal.SIGINT)
    run.wait_for_log("draining 1 component")
    run.signal(signal.SIGINT)
    assert run.wait() == 130
    stats = run.root.spool("pe").stats()
    assert (stats.locked, stats.ready) == (1, 0)  # retried once the lock is stale
    assert "forced stop" in run.log()


def test_sighup_with_broken_file_keeps_running(start_run):
    run = start_run("pe")
    run.wait_for_log("all 1 component ready")
    run.config.write_text(component_table("pe") + "workers = 0\n")
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


def test_components_drain_when_the_supervisor_is_killed(start_run):
    run = start_run("pe", "archive")
    run.wait_for_log("all 2 components ready")
    children = [run.pid_of("pe"), run.pid_of("archive")]
    run.signal(signal.SIGKILL)
    run.wait()
    wait_until(lambda: not any(alive(pid) for pid in children))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(") ")[1][0] != "Z"  # an unreaped zombie has ended


def test_reload_is_notified_and_ready_again_once_new_components_are(start_run, tmp_path):
    address = str(tmp_path / "notify.sock")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(address)
        sock.settimeout(15)
        run = start_run("pe", NOTIFY_SOCKET=address)
        assert sock.recv(4096) == b"READY=1\nSTATUS=1 component running"
        run.config.write_text(component_table("pe") + component_table("fresh"))
        run.signal(signal.SIGHUP)
        assert sock.recv(4096) == b"RELOADING=1"
        assert sock.recv(4096) == b"READY=1\nSTATUS=2 components running"
        assert "component fresh is ready" in run.log()


def test_a_restarted_component_runs_the_applied_configuration_not_the_edited_file(start_run):
    run = start_run("pe")
    run.wait_for_log("all 1 component ready")
    # Edited, not yet reloaded: a valid change, then a file half written.
    run.write_config("pe", extra='reply_spool = "elsewhere"\n')
    os.kill(run.pid_of("pe"), signal.SIGKILL)
    run.wait_for_log(r"started component pe \(pid \d+\)", count=2)
    assert run.ask("pe").body == "hello by pe"  # into pe_reply, as applied
    run.config.write_text("[components.pe\n")
    os.kill(run.pid_of("pe"), signal.SIGKILL)
    run.wait_for_log(r"started component pe \(pid \d+\)", count=3)
    assert run.ask("pe").body == "hello by pe"
    assert run.root.spool("elsewhere").count() == 0
    # Reloaded: now the file's settings apply.
    run.write_config("pe", extra='reply_spool = "elsewhere"\n')
    run.signal(signal.SIGHUP)
    run.wait_for_log("component pe changed: restarting it")
    run.wait_for_log(r"started component pe \(pid \d+\)", count=4)  # the old child is gone
    assert run.ask("pe", answers="elsewhere").body == "hello by pe"
