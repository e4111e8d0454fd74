"""`spoolq retry`: messages waiting out a backoff become due now, in place; a running watcher takes them."""

from __future__ import annotations

import json
import time

import pytest

from spoolq import Message, SpoolRoot
from spoolq.cli import exit_codes
from spoolq.component.retry import NOT_BEFORE
from spoolq.spool.parking import park
from tests.conftest import run_cli
from tests.waiting import wait_until
from tests.watch_helpers import Watcher, recorded


def waiting_message(message_id: str, delay: float = 200) -> Message:
    """A message a retry rewrote, due in ``delay`` seconds (within the default max_delay, 300 s)."""
    return Message("x", {"message-id": message_id, "attempt": "2", NOT_BEFORE: f"{time.time() + delay:.6f}"})


@pytest.fixture
def root(root_dir):
    root = SpoolRoot(root_dir, durable=False)
    root.spool("pe")
    root.spool("md")
    return root


def test_retry_sets_not_before_to_now_and_leaves_every_other_byte(cli, root):
    spool = root.spool("pe")
    ready = spool.put(Message("y", {"message-id": "m2"}))
    ready_bytes = spool.read(ready)
    # Another encoder's spacing and key order: kept byte for byte.
    data = b'{ "body": "x",  "header": {"not-before" : "9999999999.000000", "message-id": "m1"}, "text":true}'
    name = spool.put(data)
    before = time.time()
    result = cli("--root", root.path, "retry", "pe")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == "pe: made 1 waiting message(s) due now\n"
    after = spool.read(name)
    prefix, suffix = data.split(b"9999999999.000000")
    assert after.startswith(prefix) and after.endswith(suffix)
    assert before <= float(after[len(prefix) : -len(suffix)]) <= time.time()
    assert list(spool.names()) == sorted([name, ready]) and not spool.is_locked(name)
    assert spool.read(ready) == ready_bytes  # due already: not rewritten


def test_a_locked_waiting_message_is_left_alone(cli, root):
    spool = root.spool("pe")
    name = spool.put(waiting_message("m-locked"))
    data = spool.read(name)
    spool.lock(name)
    result = cli("--root", root.path, "retry", "--all")
    assert result.returncode == 0
    assert "locked; left waiting" in result.stderr.decode()
    assert "pe: made 0 waiting message(s) due now, 1 left waiting" in result.stdout.decode()
    assert spool.read(name) == data and spool.is_locked(name)


def test_retry_all_covers_every_spool_and_not_the_parked_areas(cli, root):
    names = {spool: root.spool(spool).put(waiting_message(f"m-{spool}")) for spool in ("pe", "md")}
    park(root, "pe", root.spool("pe").read(names["pe"]), "parked while waiting")
    parked = list(root.parked("pe").names())
    parked_bytes = root.parked("pe").read(parked[0])
    result = cli("--root", root.path, "retry", "--all")
    assert result.stdout.decode().splitlines() == [
        "md: made 1 waiting message(s) due now",
        "pe: made 1 waiting message(s) due now",
    ]
    found = cli("--root", root.path, "find", "--json", "m-pe").stdout.splitlines()
    assert [json.loads(line)["state"] for line in found] == ["queued", "parked"]
    assert root.parked("pe").read(parked[0]) == parked_bytes


def test_a_dry_run_lists_and_changes_nothing(cli, root):
    spool = root.spool("pe")
    name = spool.put(waiting_message("m-dry"))
    data = spool.read(name)
    result = cli("--root", root.path, "retry", "-n", "pe")
    lines = result.stdout.decode().splitlines()
    assert lines == [f"pe/{name}", "pe: would make 1 waiting message(s) due now"]
    assert spool.read(name) == data


def test_retry_needs_spools_or_all_and_existing_spools(cli, root):
    assert cli("--root", root.path, "retry").returncode == exit_codes.USAGE
    assert cli("--root", root.path, "retry", "--all", "pe").returncode == exit_codes.USAGE
    missing = cli("--root", root.path, "retry", "pe", "nope")
    assert missing.returncode == exit_codes.NOT_FOUND and b"nope" in missing.stderr


@pytest.mark.timeout(60)
def test_a_running_watcher_handles_a_message_made_due_at_once(root, tmp_path):
    record = tmp_path / "record"
    spool = root.spool("pe")
    watcher = Watcher(
        root.path, "pe", "--handler", "tests.watch_handlers:record", "-o", f"record={record}",
        "--rescan-interval", "600", log=tmp_path / "watch.log",
    )  # fmt: skip
    try:
        spool.put(waiting_message("m-later"))
        spool.put(Message("now", {"message-id": "m-now"}))
        # One worker takes them oldest first: once m-now is handled, m-later was met and deferred.
        wait_until(lambda: recorded(record) == ["m-now"], what="m-now handled")
        assert run_cli("--root", root.path, "retry", "pe").returncode == 0
        wait_until(lambda: recorded(record) == ["m-now", "m-later"], timeout=10, what="m-later handled")
    finally:
        watcher.close()


def test_a_not_before_spelt_otherwise_is_left_waiting_and_reported(cli, root):
    spool = root.spool("pe")
    data = b'{"header":{"not\\u002dbefore":"9999999999.0","message-id":"m-odd"},"body":"x","text":true}'
    name = spool.put(data)
    result = cli("--root", root.path, "retry", "pe")
    assert result.returncode == 0
    assert f"{name}: uneditable; left waiting" in result.stderr.decode()
    assert result.stdout.decode() == "pe: made 0 waiting message(s) due now, 1 left waiting\n"
    assert spool.read(name) == data and not spool.is_locked(name)
