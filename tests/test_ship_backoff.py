"""A broker that takes each connection and then refuses every SEND is not hit in a storm."""

from __future__ import annotations

import logging
import time

import pytest

from spoolq.message import Message
from spoolq.shippers.queue_types import queue_headers
from spoolq.testbed.shipping import publish, root_of, running, unique, write_node_config
from tests.waiting import wait_until

WATCHED = 8.0  # seconds the refusals are counted over (at 0.1-0.2 s a retry, the old loop made 25-40)


def refusing_sender(tmp_path, broker, node_b: str):
    """A classic sender, one send at a time, to a queue already declared quorum: each SEND refused.

    RabbitMQ answers ``PRECONDITION_FAILED - inequivalent arg 'x-queue-type'`` and closes the
    connection, every time.
    """
    queue = f"spoolq-test.{node_b}"
    publish(broker, f"/queue/{queue}", [(b"declares the queue quorum", queue_headers("quorum"))])
    path = write_node_config(tmp_path / "a", unique("a"), broker)
    text = path.read_text().replace("window = 200\n", "window = 1\n")
    path.write_text(text.replace("backoff_max = 1\n", "backoff_max = 60\n", 1))  # [shippers.out]'s
    return path


@pytest.mark.timeout(120)
def test_reconnects_back_off_while_the_broker_refuses_every_send(broker, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="spoolq.shippers")
    node_b = unique("b")
    sender = refusing_sender(tmp_path, broker, node_b)
    messages = [Message.new("x", str(n), to=f"md@{node_b}") for n in range(100)]
    root_of(sender).spool("outgoing").put_many(messages)
    with running(sender, "out") as (outbound,):
        wait_until(lambda: outbound.status.reconnects >= 1, 60, "the first refusal and reconnect")
        first = outbound.status.reconnects
        time.sleep(WATCHED)  # the window the reconnects are counted in
        reconnects = outbound.status.reconnects - first
        assert outbound.status.done == 0
    # The backoff doubles from 0.1-0.2 s: at most 0.1+0.2+0.4+0.8+1.6+3.2 s of waits fit in the window.
    assert reconnects <= 7, f"{reconnects} reconnects in {WATCHED} s: the backoff was reset at each connect"
    said = [r.getMessage() for r in caplog.records if "(again" not in r.getMessage()]
    assert len([line for line in said if "error frame: precondition_failed" in line]) == 1
    assert len([line for line in said if "refused a send" in line]) <= 1  # (when it came before the close)
    lost = [line for line in said if "lost after the broker said: precondition_failed" in line]
    assert len(lost) == 1 and "retrying in" in lost[0], lost
    counts = [r.getMessage() for r in caplog.records if "(again" in r.getMessage()]
    assert [line for line in counts if "error frame" in line]  # the repeats counted, said at the stop
