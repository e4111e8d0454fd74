"""`spoolq find ID`: every place a message is, and its state, by message-id, correlation-id or element."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from spoolq import Message, SpoolRoot, envelope
from spoolq.cli import exit_codes
from spoolq.component.retry import ATTEMPT, NOT_BEFORE, RETRY_REASON
from spoolq.shippers.sent_log import SentLog
from spoolq.spool.owners import Ownership
from spoolq.spool.parking import park


@pytest.fixture
def root(root_dir):
    root = SpoolRoot(root_dir, durable=False)
    root.spool("pe")
    root.spool("pe_reply")
    return root


def found(cli, root, wanted):
    result = cli("--root", root.path, "find", "--json", wanted)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.decode().splitlines()]


def test_a_message_id_finds_the_request_and_a_correlation_id_its_reply(cli, root):
    request = Message.new("CACHE_WRITTEN", "file a")
    name = root.spool("pe").put(request)
    reply_name = root.spool("pe_reply").put(request.reply("CACHE_WRITTEN_ACK", "ok"))
    places = found(cli, root, request.message_id)
    assert [(p["where"], p["element"], p["state"]) for p in places] == [
        ("pe", name, "queued"),
        ("pe_reply", reply_name, "queued"),
    ]
    assert places[1]["correlation-id"] == request.message_id
    assert places[0]["path"] == os.path.join(root.path, "pe", name)


def test_an_element_name_is_found_by_path_also_as_the_log_prints_it(cli, root):
    name = root.spool("pe").put(Message.new("T", "x"))
    for wanted in (name, f"{root.path}/pe/{name}", name[9:]):
        [place] = found(cli, root, wanted)
        assert (place["where"], place["element"], place["state"]) == ("pe", name, "queued")


def test_a_message_waiting_out_a_backoff_shows_until_when(cli, root):
    due = time.time() + 600
    header = {"message-id": "m-wait", ATTEMPT: "3", NOT_BEFORE: f"{due:.6f}", RETRY_REASON: "ValueError: no"}
    root.spool("pe").put(Message("x", header))
    [place] = found(cli, root, "m-wait")
    assert place["state"] == "waiting" and abs(place["not_before"] - due) < 1e-3
    assert place["attempt"] == "3" and place["reason"] == "ValueError: no"
    text = cli("--root", root.path, "find", "m-wait").stdout.decode()
    assert "waiting" in text and time.strftime("%Y-%m-%dT%H:%M", time.gmtime(due)) in text


def test_a_locked_message_names_the_process_that_holds_it(cli, root):
    spool = root.spool("pe")
    name = spool.put(Message("x", {"message-id": "m-held"}))
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, root.path, name],
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    try:
        assert holder.stdout.readline() == b"holding\n"
        [place] = found(cli, root, "m-held")
        assert place["state"] == "locked" and place["locked_by"] == [holder.pid]
        assert f"pid {holder.pid}" in cli("--root", root.path, "find", name).stdout.decode()
    finally:
        holder.kill()
        holder.wait()


_HOLDER = """
import sys
from spoolq.spool import SpoolRoot
from spoolq.spool.owners import Ownership
root, name = SpoolRoot(sys.argv[1], durable=False), sys.argv[2]
owner = Ownership(root.path, "pe", slots=1)
ledger = owner.ledger()
assert root.spool("pe").lock(name)
ledger.claimed([name])
print("holding", flush=True)
import time; time.sleep(60)
"""


def test_a_lock_without_an_owner_file_says_so(cli, root):
    spool = root.spool("pe")
    name = spool.put(Message("x", {"message-id": "m-lock"}))
    spool.lock(name)
    elsewhere = Ownership(root.path, "other", slots=1)  # an owner of another spool holds nothing here
    [place] = found(cli, root, "m-lock")
    elsewhere.close()
    assert (place["state"], place["locked_by"]) == ("locked", [])
    assert "no owner file" in place["detail"]


def test_a_parked_message_is_found_by_its_id_its_correlation_id_and_its_old_element_name(cli, root):
    original = Message("body", {"message-id": "m-park", "correlation-id": "c-park", "type": "T"})
    old_name = "6b000000/6b00000000000a"
    parked_name = park(root, "pe", envelope.encode(original), "no handler for T", element=old_name)
    for wanted in ("m-park", "c-park", old_name, parked_name):
        [place] = found(cli, root, wanted)
        assert (place["where"], place["element"], place["state"]) == ("parked/pe", parked_name, "parked")
        assert place["reason"] == "no handler for T" and place["parked_element"] == old_name


def test_what_a_shipper_sent_is_found_with_its_destination_and_time(cli, root):
    log = SentLog(os.path.join(root.path, ".shippers"), "out")
    log.add_many([("m-sent", "/queue/spoolq.b", "6b000000/6b00000000000b")])
    log.close()
    with open(os.path.join(root.path, ".shippers", "in.ids"), "w") as ids:
        ids.write("m-other\nm-sent\n")
    places = found(cli, root, "m-sent")
    assert [(p["where"], p["state"]) for p in places] == [
        ("shipper out", "shipped"),
        ("receiver in", "received"),
    ]
    assert places[0]["destination"] == "/queue/spoolq.b" and time.time() - places[0]["sent_at"] < 60


def test_a_sent_log_stays_bounded(root):
    directory = os.path.join(root.path, ".shippers")
    log = SentLog(directory, "out", lines_per_file=10)
    for n in range(35):
        log.add_many([(f"id{n}", "/queue/x", "e")])
    log.close()
    names = sorted(os.listdir(directory))
    assert names == ["out.sent", "out.sent.1"]
    kept = [line.split("\t")[1] for n in names for line in open_lines(os.path.join(directory, n))]
    assert len(kept) <= 20 and "id34" in kept and "id0" not in kept


def open_lines(path: str) -> list[str]:
    with open(path) as handle:
        return handle.readlines()


def test_nothing_found_exits_not_found_in_one_line(cli, root):
    root.spool("pe").put(Message("x", {"message-id": "m-1"}))
    result = cli("--root", root.path, "find", "m-2")
    assert result.returncode == exit_codes.NOT_FOUND
    assert result.stdout == b"" and result.stderr.count(b"\n") == 1 and b"m-2" in result.stderr


def test_an_id_with_characters_json_may_escape_is_still_found(cli, root):
    root.spool("pe").put(b'{"header":{"message-id":"caf\\u00e9/1"},"body":"x","text":true}')
    [place] = found(cli, root, "caf\u00e9/1")
    assert place["state"] == "queued"


def test_a_correlation_id_made_of_a_spool_and_element_finds_the_reply_too(cli, root):
    request = root.spool("pe").put(b"a request without a message-id")
    reply = root.spool("pe_reply").put(Message("answer", {"correlation-id": f"pe/{request}"}))
    places = found(cli, root, f"pe/{request}")
    assert [(p["where"], p["element"]) for p in places] == [("pe", request), ("pe_reply", reply)]
    [by_name] = found(cli, root, request)
    assert by_name["element"] == request


def test_a_plain_id_spelt_with_json_escapes_is_still_found(cli, root):
    root.spool("pe").put(b'{"header":{"message-id":"\\u006d-esc"},"body":"x","text":true}')
    [place] = found(cli, root, "m-esc")
    assert place["message-id"] == "m-esc"
