"""Several producer and consumer processes on one spool: every message consumed exactly once."""

import multiprocessing
import os
from pathlib import Path

import pytest

from spoolq import Message, Spool

PRODUCERS, CONSUMERS, PER_PRODUCER = 3, 3, 300


def produce(path: str, producer: int) -> None:
    spool = Spool(path, durable=False)
    for i in range(PER_PRODUCER):
        if i % 50 == 0:
            spool.put_many(Message.new("WORK", f"{producer}:{i + k}") for k in range(10))
        elif i % 50 < 10:
            continue  # already put in the batch above
        else:
            spool.put(Message.new("WORK", f"{producer}:{i}"))


def consume(path: str, done_flag: str, out: str) -> None:
    spool = Spool(path, durable=False)
    with open(out, "w") as log:
        while True:
            producers_done = os.path.exists(done_flag)
            took = 0
            for claim in spool.claims():
                log.write(claim.message().body + "\n")
                claim.ack()
                took += 1
            if producers_done and took == 0 and spool.count() == 0:
                return


@pytest.mark.timeout(60)
def test_no_message_is_lost_or_consumed_twice(tmp_path):
    path, done_flag = str(tmp_path / "q"), str(tmp_path / "producers-done")
    Spool(path)
    context = multiprocessing.get_context("fork")
    outs = [str(tmp_path / f"consumer{c}.txt") for c in range(CONSUMERS)]
    consumers = [context.Process(target=consume, args=(path, done_flag, out)) for out in outs]
    producers = [context.Process(target=produce, args=(path, p)) for p in range(PRODUCERS)]
    for process in consumers + producers:
        process.start()
    for process in producers:
        process.join(30)
        assert process.exitcode == 0
    open(done_flag, "w").close()
    for process in consumers:
        process.join(30)
        assert process.exitcode == 0
    consumed = [line for out in outs for line in Path(out).read_text().splitlines()]
    expected = {f"{p}:{i}" for p in range(PRODUCERS) for i in range(PER_PRODUCER)}
    assert len(consumed) == len(expected), "a message was consumed twice or lost"
    assert set(consumed) == expected
