"""Message ids: version 4 UUIDs, never repeated, not even by a forked child."""

from __future__ import annotations

import os
import uuid

from spoolq.message import Message, new_message_id


def test_ids_are_distinct_version_4_uuids_as_32_hex_digits():
    ids = [new_message_id() for _ in range(5000)]  # many pool refills
    assert len(set(ids)) == len(ids)
    for hex_id in ids:
        parsed = uuid.UUID(hex_id)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and parsed.hex == hex_id


def test_new_messages_carry_fresh_ids():
    assert Message.new("T").message_id != Message.new("T").message_id


def test_a_forked_child_does_not_reuse_its_parents_pooled_ids():
    new_message_id()  # the pool now holds ids the parent has not used yet
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ids and leave at once
        os.close(read_end)
        os.write(write_end, "".join(new_message_id() for _ in range(10)).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child = pipe.read().decode()
    os.waitpid(pid, 0)
    child_ids = {child[i : i + 32] for i in range(0, len(child), 32)}
    parent_ids = {new_message_id() for _ in range(300)}
    assert len(child_ids) == 10 and not child_ids & parent_ids
