"""`spoolq watch` as operators run it: real processes, real signals, shell tools."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from watch_helpers import Watcher, recorded

from spoolq import Spool, envelope
from spoolq.message import Message
from spoolq.spool import SpoolRoot
from tests.scheduling import context_switches
from tests.waiting import wait_until

RECORD = "tests.watch_handlers:record"


def test_message_moved_in_by_shell_mv_is_answered(root_dir, tmp_path, watchers):
    watchers("pe", "--handler", "echo")
    request = Message.new("PING", "from the shell")
    staged = tmp_path / "staged"
    staged.write_bytes(envelope.encode(request))
    directory = root_dir / "pe" / "10000000"
    script = f"mkdir -p {directory} && mv {staged} {directory}/1000000000000a"
    subprocess.run(["sh", "-c", script], check=True)
    reply_spool = SpoolRoot(root_dir).spool("pe_reply")
    wait_until(lambda: reply_spool.count() == 1, what="the reply")
    assert reply_spool.get(next(reply_spool.names())).correlation_id == request.message_id


def test_file_dropped_into_the_drop_box_is_handled(root_dir, tmp_path, watchers):
    log, box = tmp_path / "seen", tmp_path / "box"
    box.mkdir()
    watchers("pe", "--handler", RECORD, "-o", f"record={log}", "--dropbox", str(box))
    written = Message.new("PING", "written in place")  # closed after writing
    (box / "any name at all").write_bytes(envelope.encode(written))
    renamed = Message.new("PING", "renamed in")
    (box / ".partial").write_bytes(envelope.encode(renamed))
    wait_until(lambda: recorded(log) == [written.message_id], what="the written file handled")
    assert (box / ".partial").exists()  # dotfiles wait for their rename
    subprocess.run(["mv", str(box / ".partial"), str(box / "done.json")], check=True)
    wait_until(lambda: len(recorded(log)) == 2, what="the renamed file handled")
    assert recorded(log)[1] == renamed.message_id and os.listdir(box) == []


def test_kill_9_mid_handle_then_restart_loses_nothing(root_dir, tmp_path, watchers):
    log, started = tmp_path / "seen", tmp_path / "started"
    spool = SpoolRoot(root_dir, granularity=1).spool("pe")
    ids = {m.message_id for m in [Message.new("JOB", str(i)) for i in range(10)]}
    spool.put_many(Message("x", {"message-id": i, "type": "JOB"}) for i in sorted(ids))
    args = ("pe", "--handler", RECORD, "-o", f"record={log}", "-o", f"started={started}")
    first = watchers(*args, "-o", "sleep=5", "--lock-timeout", "1")
    wait_until(lambda: recorded(started), what="a handler started")
    os.kill(first.process.pid, signal.SIGKILL)
    first.wait()
    watchers(*args, "--lock-timeout", "1", "--workers", "2")
    wait_until(lambda: set(recorded(log)) == ids and spool.count() == 0, timeout=20, what="all handled")


def test_two_watchers_on_one_spool_never_handle_a_message_twice(root_dir, tmp_path, watchers):
    log = tmp_path / "seen"
    args = ("pe", "--handler", RECORD, "-o", f"record={log}", "--workers", "2")
    watchers(*args)
    watchers(*args)
    spool = SpoolRoot(root_dir, granularity=1).spool("pe")
    messages = [Message.new("JOB", str(i)) for i in range(300)]
    for message in messages:
        spool.put(message)
    wait_until(lambda: len(recorded(log)) >= 300 and spool.count() == 0, timeout=30, what="all handled")
    seen = recorded(log)
    assert len(seen) == 300 and set(seen) == {m.message_id for m in messages}


def test_sigterm_drains_the_message_in_flight(root_dir, tmp_path, watchers):
    log, started = tmp_path / "seen", tmp_path / "started"
    watcher = watchers(
        "pe", "--handler", RECORD, "-o", f"record={log}", "-o", f"started={started}", "-o", "sleep=0.7"
    )
    request = Message.new("JOB", "slow")
    SpoolRoot(root_dir).spool("pe").put(request)
    wait_until(lambda: recorded(started), what="the handler started")
    watcher.signal(signal.SIGTERM)
    assert watcher.wait(10) == 0
    assert recorded(log) == [request.message_id]
    assert "drained" in watcher.stderr()


def test_second_signal_stops_at_once_leaving_the_claim_locked(root_dir, tmp_path, watchers):
    log, started = tmp_path / "seen", tmp_path / "started"
    watcher = watchers(
        "pe", "--handler", RECORD, "-o", f"record={log}", "-o", f"started={started}", "-o", "sleep=30"
    )
    spool = SpoolRoot(root_dir).spool("pe")
    spool.put(Message.new("JOB", "very slow"))
    wait_until(lambda: recorded(started), what="the handler started")
    watcher.signal(signal.SIGTERM)
    wait_until(lambda: "draining" in watcher.stderr(), what="draining")
    watcher.signal(signal.SIGINT)
    watcher.wait(10)
    assert recorded(log) == [] and spool.is_locked(next(spool.names()))


def test_an_idle_watcher_never_wakes(watchers):
    """Nothing to do: every thread sleeps until a message, a signal or a timer tens of seconds away."""
    watcher = watchers("pe", "--handler", "noop")
    time.sleep(0.5)  # the start-up's last steps (the ready report) settle
    before = context_switches(watcher.process.pid)
    time.sleep(3)
    assert context_switches(watcher.process.pid) == before


def test_watch_without_a_spool_is_one_clear_error(cli, root_dir):
    result = cli("--root", str(root_dir), "watch")
    assert result.returncode == 4
    assert result.stderr.decode().startswith("spoolq: error: give a SPOOL")
    result = cli("--root", str(root_dir), "watch", "pe", "--handler", "no.such:thing")
    assert result.returncode == 4 and "cannot import module 'no.such'" in result.stderr.decode()


def test_poll_mode_serves_the_spool_without_inotify(root_dir, tmp_path, watchers):
    log = tmp_path / "seen"
    watchers("pe", "--handler", RECORD, "-o", f"record={log}", "--poll", "--poll-interval", "0.05")
    request = Message.new("JOB", "polled")
    SpoolRoot(root_dir).spool("pe").put(request)
    wait_until(lambda: recorded(log) == [request.message_id], what="the polled message handled")


@pytest.mark.timeout(240)
def test_a_real_inotify_queue_overflow_is_rescanned_and_nothing_is_missed(tmp_path):
    # More events than the kernel queues (fs.inotify.max_queued_events) arrive while the
    # watcher is stopped, so the kernel drops events and reports IN_Q_OVERFLOW.
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    if limit > 100_000:
        pytest.skip(f"max_queued_events is {limit}: too many elements to overflow it in a test")
    shm = Path("/dev/shm") if os.path.isdir("/dev/shm") else tmp_path  # the disk is slow to fill
    root_dir = Path(tempfile.mkdtemp(prefix="spoolq-overflow-", dir=shm))
    watcher = Watcher(root_dir, "pe", "--handler", "noop", log=tmp_path / "watch.log")
    try:
        # One intermediate directory for the whole test, watched before the flood.
        spool = Spool(root_dir / "pe", durable=False, granularity=10**6)
        data = envelope.encode(Message.new("PING", "x"))
        spool.put(data)
        wait_until(lambda: spool.count() == 0, what="the first element handled: its directory watched")
        watcher.signal(signal.SIGSTOP)
        for _ in range(limit + 2000):
            spool.put(data)
        watcher.signal(signal.SIGCONT)
        wait_until(lambda: spool.count() == 0, timeout=200, what="every element handled")
        assert "overflowed" in watcher.stderr()
        assert watcher.process.poll() is None
    finally:
        watcher.close()
        shutil.rmtree(root_dir, ignore_errors=True)
