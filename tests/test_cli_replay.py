"""`spoolq replay` and `discard`: parked messages back to their spool, or deleted, chosen by filters."""

import json

import pytest

from spoolq import Message, SpoolRoot
from spoolq.cli import exit_codes
from spoolq.spool.parking import iter_parked, park


@pytest.fixture
def root(root_dir):
    root = SpoolRoot(root_dir, durable=False)
    root.spool("pe")
    return root


def park_message(root, message_type, body=b"", age=0.0):
    original = body or json.dumps({"header": {"type": message_type}, "body": "x"}).encode()
    park(root, "pe", original, f"failed {message_type}")
    if age:
        # Age it by rewriting the parked-at header, as an older park would have.
        parked = root.parked("pe")
        name = list(parked.names())[-1]
        message = parked.get(name)
        header = dict(message.header, **{"parked-at": str(float(message.header["parked-at"]) - age)})
        parked.lock(name)
        parked.remove(name)
        parked.put(Message(message.body, header))
    return original


def run(cli, root, *args):
    return cli("--root", root.path, "replay", "pe", *args)


def test_replay_moves_everything_back_byte_exact(cli, root):
    originals = {park_message(root, "A"), park_message(root, None, body=b"\x00raw\xff")}
    result = run(cli, root)
    assert result.returncode == 0, result.stderr
    assert "replayed 2 message(s)" in result.stdout.decode()
    assert b"replaying pe" in result.stderr  # the progress bar
    spool = root.spool("pe")
    assert {spool.read(name) for name in spool.names()} == originals
    assert root.parked("pe").count() == 0


def test_replay_filters_by_type_age_and_id(cli, root):
    park_message(root, "A")
    park_message(root, "B")
    old_b = park_message(root, "B", body=b'{"header": {"type": "B"}, "body": "old"}', age=3600)
    assert run(cli, root, "--type", "B", "--older-than", "600").returncode == 0
    spool = root.spool("pe")
    assert [spool.read(n) for n in spool.names()] == [old_b]
    remaining = list(iter_parked(root, "pe"))
    assert sorted(p.type for p in remaining) == ["A", "B"]
    target = next(p for p in remaining if p.type == "A")
    assert run(cli, root, "--id", target.name).returncode == 0
    assert [p.type for p in iter_parked(root, "pe")] == ["B"]


def test_replay_filters_by_reason_and_a_dry_run_moves_nothing(cli, root):
    park(root, "pe", b"one", "delivery failed: connection refused by tape library")
    park(root, "pe", b"two", "Traceback (most recent call last):\n  ...\nKeyError: 'file'")
    park(root, "pe", b"three", "handler timed out\nsecond line")
    dry = run(cli, root, "--reason", "connection refused", "--reason", "timed out", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.decode().splitlines()
    assert [line.split("  ", 2)[2] for line in lines[:-1]] == [
        "delivery failed: connection refused by tape library",
        "handler timed out",  # the first line of the reason
    ]
    assert lines[-1] == "would replay 2 message(s) into pe"
    assert root.parked("pe").count() == 3 and root.spool("pe").count() == 0
    assert run(cli, root, "--reason", "connection refused", "--reason", "timed out").returncode == 0
    spool = root.spool("pe")
    assert sorted(spool.read(n) for n in spool.names()) == [b"one", b"three"]
    assert [p.original for p in iter_parked(root, "pe")] == [b"two"]


def test_nothing_to_replay_is_success(cli, root):
    result = run(cli, root)
    assert result.returncode == 0 and b"nothing to replay" in result.stderr
    park_message(root, "A")
    result = run(cli, root, "--type", "Z")
    assert result.returncode == 0 and b"nothing to replay" in result.stderr
    assert root.parked("pe").count() == 1


def test_replay_into_a_missing_spool_exits_not_found(cli, root):
    assert cli("--root", root.path, "replay", "nope").returncode == exit_codes.NOT_FOUND


def discard(cli, root, *args):
    return cli("--root", root.path, "discard", "pe", *args)


def test_discard_deletes_only_what_the_filters_choose_and_a_dry_run_nothing(cli, root):
    waiting = root.spool("pe").put(b"waiting, not parked")
    park(root, "pe", b"garbage", "not a valid envelope: Expecting value")
    park_message(root, "RETIRED")
    park(root, "pe", b"keep", "tape library offline")
    dry = discard(cli, root, "--reason", "not a valid envelope", "--reason", "failed RETIRED", "-n")
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.decode().splitlines()
    assert [line.split("  ")[1:] for line in lines[:-1]] == [
        ["-", "not a valid envelope: Expecting value"],
        ["RETIRED", "failed RETIRED"],
    ]
    assert lines[-1] == "would discard 2 parked message(s) of pe"
    assert root.parked("pe").count() == 3
    both = discard(cli, root, "--reason", "not a valid envelope", "--type", "RETIRED")
    assert both.returncode == 0 and b"nothing to discard" in both.stderr  # every filter must match
    result = discard(cli, root, "--reason", "not a valid envelope")
    assert result.returncode == 0 and "discarded 1 parked message(s) of pe" in result.stdout.decode()
    assert discard(cli, root, "--type", "RETIRED").returncode == 0
    assert [p.original for p in iter_parked(root, "pe")] == [b"keep"]
    assert root.spool("pe").read(waiting) == b"waiting, not parked"  # the live spool is not touched


def test_discard_asks_for_a_filter_or_all(cli, root):
    park_message(root, "A")
    park_message(root, "B")
    refused = discard(cli, root)
    assert refused.returncode == exit_codes.USAGE and b"--all" in refused.stderr
    assert root.parked("pe").count() == 2
    assert discard(cli, root, "--all").returncode == 0
    assert root.parked("pe").count() == 0
    again = discard(cli, root, "--all")
    assert again.returncode == 0 and b"nothing to discard" in again.stderr
