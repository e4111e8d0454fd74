"""Policy Engine logic, handler called directly with a real Context and spool root."""

from __future__ import annotations

import time

import pytest

from spoolq.component import timer
from spoolq.enstore.catalogue import dispatcher, events
from spoolq.enstore.catalogue.fields import OK
from spoolq.enstore.handlers.policy_engine import PolicyEngine
from spoolq.errors import Reject
from spoolq.handlers.base import Context
from spoolq.spool import SpoolRoot
from tests.enstore.tickets import missed_ticket, written_ticket


def start(root: SpoolRoot, **options) -> PolicyEngine:
    engine = PolicyEngine({"max_files": 3, "max_age": 60, "stage_delay": 60, **options})
    engine.setup(Context("pe", "pe", root))
    return engine


def feed(engine: PolicyEngine, root: SpoolRoot, message) -> Context:
    context = Context("pe", "pe", root)
    engine.handle(message, context)
    return context


@pytest.fixture
def root(root_dir):
    return SpoolRoot(root_dir, durable=False)


def test_a_full_group_is_sent_as_one_archive_command(root):
    engine = start(root)
    sent = []
    for n in range(3):
        sent += feed(engine, root, events.cache_written(written_ticket(f"F{n}"))).outbox
    assert len(sent) == 1
    spool, command = sent[0]
    assert (spool, command.type, command.reply_to) == ("md", "MDC_ARCHIVE", "pe_reply")
    assert [t["file"]["id"] for t in dispatcher.read_command(command)] == ["F0", "F1", "F2"]


def test_groups_are_kept_apart_by_file_family(root):
    engine = start(root)
    other = written_ticket("G0")
    other["enstore"]["vc"]["file_family"] = "other"
    outbox = []
    for message in (events.cache_written(written_ticket("F0")), events.cache_written(other)):
        outbox += feed(engine, root, message).outbox
    outbox += feed(engine, root, events.cache_written(written_ticket("F1"))).outbox
    assert outbox == []
    assert sorted(engine.state.load()["groups"]) == ["CD-LT04G1/cms/Commissioning08", "CD-LT04G1/cms/other"]


def test_a_group_is_sent_on_a_tick_once_old_enough(root):
    engine = start(root, max_age=0.05)
    assert feed(engine, root, events.cache_written(written_ticket("F0"))).outbox == []
    time.sleep(0.1)
    ((spool, command),) = feed(engine, root, timer.tick()).outbox
    assert command.type == "MDC_ARCHIVE"


def test_a_group_is_sent_when_it_reaches_the_byte_limit(root):
    engine = start(root, max_bytes=25)
    feed(engine, root, events.cache_written(written_ticket("F0", size=20)))
    assert len(feed(engine, root, events.cache_written(written_ticket("F1", size=20))).outbox) == 1


def test_a_duplicate_cache_written_is_archived_once(root):
    engine = start(root, max_files=2)
    feed(engine, root, events.cache_written(written_ticket("F0")))
    assert feed(engine, root, events.cache_written(written_ticket("F0"))).outbox == []
    ((_, command),) = feed(engine, root, events.cache_written(written_ticket("F1"))).outbox
    files = [{"id": "F0", "container": "c.tar"}, {"id": "F1", "container": "c.tar"}]
    feed(engine, root, dispatcher.reply(command, OK, files))
    assert feed(engine, root, events.cache_written(written_ticket("F0"))).outbox == []
    assert engine.state.load()["groups"] == {}
    assert engine.state.load()["archived"] == {"F0": "c.tar", "F1": "c.tar"}


def test_pending_groups_survive_a_restart(root):
    feed(start(root), root, events.cache_written(written_ticket("F0")))
    feed(start(root), root, events.cache_written(written_ticket("F1")))
    ((_, command),) = feed(start(root), root, events.cache_written(written_ticket("F2"))).outbox
    assert len(dispatcher.read_command(command)) == 3


def test_failed_files_go_back_to_their_group(root):
    engine = start(root, max_files=2)
    feed(engine, root, events.cache_written(written_ticket("F0")))
    ((_, command),) = feed(engine, root, events.cache_written(written_ticket("F1"))).outbox
    files = [{"id": "F0", "container": "c.tar"}, {"id": "F1", "error": "not in cache"}]
    feed(engine, root, dispatcher.reply(command, ["NOT_IN_CACHE", "1 file"], files))
    state = engine.state.load()
    assert list(state["groups"]["CD-LT04G1/cms/Commissioning08"]["files"]) == ["F1"]


def test_file_deleted_drops_pending_work(root):
    engine = start(root)
    feed(engine, root, events.cache_written(written_ticket("F0")))
    feed(engine, root, events.file_deleted({"file": {"id": "F0", "name": "/pnfs/x"}}))
    assert engine.state.load()["groups"] == {}


def test_purge_of_a_file_not_archived_is_reported_and_dropped(root):
    engine = start(root)
    feed(engine, root, events.cache_written(written_ticket("F0")))
    with pytest.raises(Reject, match="F0 that is not archived"):
        feed(engine, root, events.cache_purged(written_ticket("F0")))
    assert engine.state.load()["groups"] == {}


def test_misses_of_one_container_make_one_stage_and_release_the_readers(root):
    engine = start(root, stage_delay=0.05)
    misses = [events.cache_missed(missed_ticket(f"F{n}", "c.tar", n), reply_to="dm") for n in range(3)]
    outbox = [item for miss in misses for item in feed(engine, root, miss).outbox]
    time.sleep(0.1)
    outbox += feed(engine, root, timer.tick()).outbox
    ((spool, command),) = outbox
    assert [t["file"]["id"] for t in dispatcher.read_command(command)] == ["F0", "F1", "F2"]
    staged = written_ticket("F1")
    ((reply_spool, answer),) = feed(engine, root, events.cache_staged(staged)).outbox
    assert (reply_spool, answer.type, answer.correlation_id) == ("dm", "CACHE_STAGED", misses[1].message_id)
    assert answer.payload()["status"] == ["ok", ""]


def test_a_failed_stage_answers_the_reader_with_the_error(root):
    engine = start(root, stage_delay=0)
    miss = events.cache_missed(missed_ticket("F0", "c.tar", 1), reply_to="dm")
    ((_, command),) = feed(engine, root, miss).outbox
    files = [{"id": "F0", "error": "checksum mismatch"}]
    failed = dispatcher.reply(command, ["CRC_MISMATCH", "1 of 1"], files)
    ((spool, answer),) = feed(engine, root, failed).outbox
    assert answer.payload()["status"] == ["STAGE_FAILED", "checksum mismatch"]
    assert answer.correlation_id == miss.message_id


def test_an_unknown_type_is_rejected(root):
    from spoolq.message import Message

    with pytest.raises(Reject, match="does not handle"):
        feed(start(root), root, Message.new("HELLO", {}))


def archive(engine, root, *file_ids):
    outbox = [
        item for f in file_ids for item in feed(engine, root, events.cache_written(written_ticket(f))).outbox
    ]
    ((_, command),) = outbox
    files = [{"id": f, "container": "c.tar"} for f in file_ids]
    feed(engine, root, dispatcher.reply(command, OK, files))


def test_archived_files_are_forgotten_after_archived_keep(root):
    engine = start(root, max_files=2, archived_keep=0.2)
    archive(engine, root, "F0", "F1")
    assert set(engine.state.load()["archived"]) == {"F0", "F1"}
    time.sleep(0.3)
    archive(engine, root, "F2", "F3")
    state = engine.state.load()
    assert set(state["archived"]) == set(state["archived_at"]) == {"F2", "F3"}


def test_a_deleted_file_is_forgotten_at_once(root):
    engine = start(root, max_files=2)
    archive(engine, root, "F0", "F1")
    feed(engine, root, events.file_deleted({"file": {"id": "F0", "name": "/pnfs/x"}}))
    state = engine.state.load()
    assert set(state["archived"]) == set(state["archived_at"]) == {"F1"}


def test_files_archived_by_an_older_state_get_a_time_at_start(root):
    engine = start(root, max_files=2)
    archive(engine, root, "F0", "F1")
    with engine.state.change() as state:
        del state["archived_at"]  # as a state file written before archived_at existed
    engine.teardown()
    state = start(root).state.load()
    assert set(state["archived_at"]) == {"F0", "F1"}
