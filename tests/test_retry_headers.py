"""The retry headers a sender may write: a not-before no retry could have written is bad input.

A component honours ``not-before`` to hold a retried message back.  Written by
a sender instead (``1e999999`` reads as infinity), it would hold the message
for good: such a value is parked with the reason, and a replay puts back the
bytes that arrived.
"""

from __future__ import annotations

import time

import pytest

from spoolq.component.retry import NOT_BEFORE
from spoolq.config import ComponentConfig, RetryPolicy
from spoolq.message import Message
from spoolq.spool import SpoolRoot, parking
from tests.waiting import wait_until


@pytest.fixture
def running(root: SpoolRoot, serving):
    def start(**fields):
        fields = {"name": "pe", "spool": "pe", "handler": "echo", **fields}
        return serving(ComponentConfig(**fields), root, rescan_interval=30, poll_interval=0.05)

    return start


@pytest.mark.parametrize("value", ["1e999999", "inf", "nan", "tomorrow", "", "AN HOUR"])
def test_a_not_before_that_is_no_time_is_parked_and_the_messages_behind_it_are_served(root, running, value):
    running()
    spool = root.spool("pe")
    spool.put(Message.new("JOB", "held").with_header(**{NOT_BEFORE: value}))
    spool.put(Message.new("JOB", "good"))
    served = root.spool("pe_reply")
    parked_one = lambda: len(list(parking.iter_parked(root, "pe"))) == 1  # noqa: E731
    wait_until(lambda: parked_one() and (served.count(), spool.count()) == (1, 0), 10)
    (parked,) = parking.iter_parked(root, "pe")
    assert NOT_BEFORE in parked.reason and "not a Unix time" in parked.reason


def test_a_not_before_further_ahead_than_max_delay_is_parked_and_replayed_as_it_arrived(root, running):
    running(retry=RetryPolicy(max_delay=300.0))
    spool = root.spool("pe")
    arrived = Message.new("JOB", "a day later").with_header(**{NOT_BEFORE: f"{time.time() + 86400:.6f}"})
    spool.put(arrived)
    (name,) = spool.names()
    data = spool.read(name)
    wait_until(lambda: list(parking.iter_parked(root, "pe")), 10, "parked")
    (parked,) = parking.iter_parked(root, "pe")
    assert "more than max_delay (300 s)" in parked.reason
    assert parked.original == data
    assert [p.name for p in parking.replay(root, "pe", [parked.name])] == [parked.name]
    wait_until(lambda: list(parking.iter_parked(root, "pe")), 10, "parked again")
    (again,) = parking.iter_parked(root, "pe")
    assert again.original == data


def test_a_handlers_requested_delay_is_at_most_max_delay(root, running):
    running(handler="tests.watch_handlers:retry_in_an_hour_once", retry=RetryPolicy(max_delay=0.1))
    root.spool("pe").put(Message.new("JOB", "x"))
    wait_until(lambda: root.spool("pe_reply").count() == 1, 10, "answered on the second attempt")
    assert list(parking.iter_parked(root, "pe")) == []
