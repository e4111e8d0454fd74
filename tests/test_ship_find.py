"""`spoolq find` follows a message out through a real shipper: sent where, and when."""

from __future__ import annotations

import json
import os
import time

from spoolq.message import Message
from spoolq.testbed.shipping import root_of, running, unique, write_node_config
from tests.waiting import wait_until


def test_find_says_where_a_shipped_message_went_and_the_receiver_that_took_it(broker, tmp_path, cli):
    node_b = unique("b")
    sender = write_node_config(tmp_path / "a", unique("a"), broker)
    receiver = write_node_config(tmp_path / "b", node_b, broker)
    messages = [Message.new("ping", str(n), to=f"md@{node_b}") for n in range(20)]
    before = time.time()
    root_of(sender).spool("outgoing").put_many(messages)
    with running(sender, "out"), running(receiver, "in"):
        wait_until(lambda: root_of(receiver).spool("md").count() == 20, what="20 messages in md")
    wanted = messages[7].message_id

    result = cli("--root", root_of(sender).path, "find", "--json", wanted)
    assert result.returncode == 0, result.stderr
    [shipped] = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert (shipped["state"], shipped["shipper"]) == ("shipped", "out")
    assert shipped["destination"] == f"/queue/spoolq-test.{node_b}"
    assert before <= shipped["sent_at"] <= time.time()
    assert os.path.exists(os.path.join(root_of(sender).path, ".shippers", "out.sent"))

    result = cli("--root", root_of(receiver).path, "find", "--json", wanted)
    places = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [(p["where"], p["state"]) for p in places] == [("md", "queued"), ("receiver in", "received")]
