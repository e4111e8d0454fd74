"""Message ids: uuid4 hex, unique, drawn from a pool of random bytes that a fork does not share."""

from __future__ import annotations

import os
import threading
import uuid

from spoolq.message import Message, new_message_id


def test_ids_are_uuid4_hex_and_do_not_repeat():
    ids = [new_message_id() for _ in range(5000)]  # more than one pool of random bytes
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.hex == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_threads_drawing_at_once_never_get_the_same_id():
    drawn: list[list[str]] = [[] for _ in range(4)]

    def draw(into: list[str]) -> None:
        into.extend(Message.new("T").message_id for _ in range(2000))

    threads = [threading.Thread(target=draw, args=(into,)) for into in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [text for into in drawn for text in into]
    assert len(set(every)) == len(every) == 8000


def test_a_forked_child_draws_fresh_bytes_not_its_parents():
    new_message_id()  # the pool now holds bytes a child would inherit
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ids and leave at once
        os.write(write_end, "".join(new_message_id() for _ in range(10)).encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end) as pipe:
        text = pipe.read()
    child = {text[i : i + 32] for i in range(0, len(text), 32)}
    parent = {new_message_id() for _ in range(10)}
    assert len(child) == 10 and not child & parent
