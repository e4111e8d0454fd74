"""A watcher killed with ``kill -9`` leaves claims that its successor takes over at once.

Without an owner file (spoolq.spool.owners) the claims of a dead watcher stayed
locked for ``lock_timeout`` (600 s by default) while its restarted successor
sat idle beside them.  A live consumer's claims must never be taken.  And a
message whose handler kills the process is counted across restarts and
parked after ``max_attempts`` deaths (spoolq.spool.poison).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from watch_helpers import Watcher, recorded

from spoolq.config import ComponentConfig
from spoolq.message import Message
from spoolq.spool import SpoolRoot, parking
from tests.conftest import cli_env
from tests.run_helpers import running
from tests.waiting import wait_until

RECORD = "tests.watch_handlers:record"
POISONED = "tests.watch_handlers:dies_on_poison"


def put_jobs(spool, count: int, prefix: str = "job") -> list[str]:
    messages = [Message.new("JOB", f"{prefix} {n}") for n in range(count)]
    spool.put_many(messages)
    return [m.message_id for m in messages]


def locked_names(spool) -> set[str]:
    return {name for name in spool.names() if spool.is_locked(name)}


def deaths_noted(root_dir: Path, spool: str) -> list[str]:
    try:
        return os.listdir(root_dir / ".state" / "deaths" / spool)
    except FileNotFoundError:
        return []


def kill_9(watcher: Watcher) -> None:
    os.kill(watcher.process.pid, signal.SIGKILL)
    watcher.wait()


@pytest.mark.timeout(60)
def test_restarted_watcher_takes_over_the_killed_ones_claims_within_10_s(root_dir, tmp_path, watchers):
    spool = SpoolRoot(root_dir).spool("pe")
    ids = put_jobs(spool, 8)
    log, started = tmp_path / "seen", tmp_path / "started"
    args = ("pe", "--handler", RECORD, "-o", f"record={log}", "--workers", "4")
    first = watchers(*args, "-o", f"started={started}", "-o", "sleep=60")
    wait_until(lambda: len(recorded(started)) == 4, what="4 handlers started")
    kill_9(first)
    assert len(locked_names(spool)) == 4  # left behind, with the default lock_timeout of 600 s
    restarted_at = time.monotonic()
    watchers(*args)
    wait_until(lambda: sorted(recorded(log)) == sorted(ids), timeout=10, what="every message handled")
    assert time.monotonic() - restarted_at < 10
    wait_until(lambda: spool.count() == 0, timeout=5, what="every message removed")


@pytest.mark.timeout(60)
def test_a_live_consumers_claims_are_not_taken_over(root_dir, tmp_path, watchers):
    spool = SpoolRoot(root_dir).spool("pe")
    put_jobs(spool, 4)
    live_log, live_started = tmp_path / "live-seen", tmp_path / "live-started"
    live = ("pe", "--handler", RECORD, "-o", f"record={live_log}", "-o", f"started={live_started}")
    watchers(*live, "--workers", "2", "-o", "sleep=8")
    wait_until(lambda: len(recorded(live_started)) == 2, what="the live watcher's 2 handlers started")
    held_by_live = locked_names(spool)
    killed_started = tmp_path / "killed-started"
    killed = watchers("pe", "--handler", RECORD, "-o", f"record={tmp_path / 'never'}", "--workers", "2",
                      "-o", f"started={killed_started}", "-o", "sleep=60")  # fmt: skip
    wait_until(lambda: len(recorded(killed_started)) == 2, what="the killed watcher's 2 handlers started")
    kill_9(killed)
    successor_log = tmp_path / "successor-seen"
    watchers("pe", "--handler", RECORD, "-o", f"record={successor_log}", "--workers", "2")
    wait_until(
        lambda: sorted(recorded(successor_log)) == sorted(recorded(killed_started)),
        timeout=10,
        what="the killed watcher's claims handled by its successor",
    )
    assert locked_names(spool) == held_by_live  # the live watcher's claims are still its own
    wait_until(lambda: len(recorded(live_log)) == 2, timeout=20, what="the live watcher's handlers done")
    assert sorted(recorded(live_log)) == sorted(recorded(live_started))
    assert not set(recorded(live_log)) & set(recorded(successor_log))  # none handled twice
    wait_until(lambda: spool.count() == 0, timeout=5, what="every message removed")


def start_watch(root_dir: Path, log: Path, *args: str) -> subprocess.Popen:
    with open(log, "ab") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "spoolq", "--root", str(root_dir), "watch", *args],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=cli_env(),
        )


@pytest.mark.timeout(90)
def test_a_message_that_kills_its_process_is_parked_and_the_rest_handled(root_dir, tmp_path):
    """The handler calls os._exit(1) on one body: restarted each time, the watcher parks it after 3 deaths."""
    root = SpoolRoot(root_dir)
    spool = root.spool("pe")
    poison = Message.new("JOB", "poison")
    spool.put(poison)
    good = put_jobs(spool, 5)
    log, stderr = tmp_path / "seen", tmp_path / "watch.log"
    args = ("pe", "--handler", POISONED, "-o", f"record={log}", "--max-attempts", "3")
    deaths = 0
    watcher = start_watch(root_dir, stderr, *args)
    try:
        deadline = time.monotonic() + 60
        while sorted(recorded(log)) != sorted(good) and time.monotonic() < deadline:
            if watcher.poll() is not None:  # died: restart it, as spoolq run or systemd would
                deaths += 1
                assert deaths <= 5, stderr.read_text()
                watcher = start_watch(root_dir, stderr, *args)
            time.sleep(0.05)
        assert sorted(recorded(log)) == sorted(good), stderr.read_text()
        assert deaths == 3
        (parked,) = list(parking.iter_parked(root, "pe"))
        assert parked.message_id == poison.message_id
        assert "the process died while handling it" in parked.reason and parked.attempts == 3
        after = Message.new("JOB", "after")
        spool.put(after)
        wait_until(
            lambda: after.message_id in recorded(log), timeout=10, what="the restarted watcher serving"
        )
        assert watcher.poll() is None
        wait_until(lambda: spool.count() == 0, timeout=5, what="the spool emptied")
        assert deaths_noted(root_dir, "pe") == []  # no count left for a parked message
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()


def test_a_forced_stop_leaves_its_claims_to_the_successor_without_blame(root_dir, tmp_path, watchers):
    """Two SIGTERMs end the process with a handler running: not that message's fault, no death counted."""
    spool = SpoolRoot(root_dir).spool("pe")
    (request,) = put_jobs(spool, 1)
    log, started = tmp_path / "seen", tmp_path / "started"
    args = ("pe", "--handler", RECORD, "-o", f"record={log}")
    stopped = watchers(*args, "-o", f"started={started}", "-o", "sleep=60")
    wait_until(lambda: recorded(started), what="the handler started")
    stopped.signal(signal.SIGTERM)
    wait_until(lambda: "draining" in stopped.stderr(), what="the first signal")  # signals do not queue
    stopped.signal(signal.SIGTERM)
    stopped.wait()
    assert locked_names(spool)  # left behind by the forced stop
    watchers(*args)
    wait_until(lambda: recorded(log) == [request], timeout=10, what="handled by the successor")
    wait_until(lambda: spool.count() == 0, timeout=5, what="the message removed")
    assert deaths_noted(root_dir, "pe") == []


@pytest.mark.timeout(90)
def test_under_spoolq_run_a_poison_message_is_parked_and_the_component_serves(tmp_path):
    """The supervisor restarts the component it kills; after 3 deaths the message is parked."""
    log = tmp_path / "seen"
    config = tmp_path / "spoolq.toml"
    config.write_text(
        f'[components.pe]\nhandler = "{POISONED}"\n'
        f'[components.pe.options]\nrecord = "{log}"\n'
        "[components.pe.retry]\nmax_attempts = 3\n"
    )
    with running(tmp_path) as start:
        run = start(config=config)
        run.wait_for_log("all 1 component ready")
        spool = run.root.spool("pe")
        poison = Message.new("JOB", "poison")
        spool.put(poison)
        good = put_jobs(spool, 5)
        wait_until(lambda: sorted(recorded(log)) == sorted(good), timeout=40, what="the good ones handled")
        (parked,) = list(parking.iter_parked(run.root, "pe"))
        assert parked.message_id == poison.message_id and parked.attempts == 3
        assert "the process died while handling it" in parked.reason
        assert len(run.wait_for_log(r"component pe exited unexpectedly")) == 3
        after = Message.new("JOB", "after")
        spool.put(after)
        wait_until(lambda: after.message_id in recorded(log), timeout=10, what="the component serving")


def test_a_component_serves_when_it_cannot_register_as_an_owner(root, tmp_path, serving, caplog):
    """``ROOT/.state`` unusable (here a file in its place): the component still serves, and says so."""
    (Path(root.path) / ".state").write_text("not a directory")
    log = tmp_path / "seen"
    config = ComponentConfig(name="pe", spool="pe", handler=RECORD, options={"record": str(log)})
    serving(config, root)
    request = Message.new("JOB", "served")
    root.spool("pe").put(request)
    wait_until(lambda: recorded(log) == [request.message_id], timeout=10, what="the message handled")
    assert "cannot register as an owner of spool pe" in caplog.text
