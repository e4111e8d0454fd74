"""Migration Dispatcher logic, handler called directly with a real Context and spool root."""

from __future__ import annotations

import time

import pytest

from spoolq.component import timer
from spoolq.enstore.catalogue import dispatcher, worker
from spoolq.enstore.catalogue.fields import OK
from spoolq.enstore.handlers.migration_dispatcher import MigrationDispatcher
from spoolq.handlers.base import Context
from spoolq.spool import SpoolRoot
from tests.enstore.tickets import missed_ticket, written_ticket


@pytest.fixture
def root(root_dir):
    return SpoolRoot(root_dir, durable=False)


def start(root: SpoolRoot, **options) -> MigrationDispatcher:
    md = MigrationDispatcher({"part_files": 2, "silence": 60, **options})
    md.setup(Context("md", "md", root))
    return md


def feed(md: MigrationDispatcher, root: SpoolRoot, message) -> list:
    context = Context("md", "md", root)
    assert md.handle(message, context) is None
    return context.outbox


def finished(command, worker_id="w1", status=OK):
    _, body = worker.read_command(command)
    files = [{"id": t["file"]["id"], "container": "c.tar"} for t in body["files"]]
    return worker.reply(command, status, {"part": body["part"], "worker": worker_id, "files": files})


def started_notice(command, worker_id="w1") -> dict:
    part = worker.read_command(command)[1]["part"]
    return {"worker": worker_id, "part": part, "state": "started", "spool": f"mw_{worker_id}"}


def test_a_command_is_split_into_parts_and_answered_when_all_are_done(root):
    md = start(root)
    request = dispatcher.archive([written_ticket(f"F{n}") for n in range(5)], reply_to="pe_reply")
    parts = feed(md, root, request)
    assert [(spool, m.type, m.reply_to) for spool, m in parts] == [("mw", "MWC_ARCHIVE", "md_reply")] * 3
    assert feed(md, root, finished(parts[0][1])) == []
    assert feed(md, root, finished(parts[1][1])) == []
    ((spool, answer),) = feed(md, root, finished(parts[2][1]))
    assert (spool, answer.type, answer.correlation_id) == ("pe_reply", "MDR_ARCHIVED", request.message_id)
    body = dispatcher.read_reply(answer)
    assert body["status"] == OK and [f["id"] for f in body["files"]] == [f"F{n}" for n in range(5)]
    assert (md.state.load()["requests"], md.state.load()["parts"]) == ({}, {})


def test_the_same_command_twice_is_stored_once(root):
    md = start(root)
    request = dispatcher.archive([written_ticket("F0")])
    assert len(feed(md, root, request)) == 1
    assert feed(md, root, request) == []


def test_stage_is_split_by_container(root):
    md = start(root)
    files = [missed_ticket("A", "c1.tar", 1), missed_ticket("B", "c2.tar", 2)]
    files.append(missed_ticket("C", "c1.tar", 3))
    parts = feed(md, root, dispatcher.stage(files))
    assert sorted(worker.read_command(m)[1]["container"] for _, m in parts) == ["c1.tar", "c2.tar"]


def test_a_part_error_is_reported_in_the_reply_status(root):
    md = start(root, part_files=10)
    ((_, part),) = feed(md, root, dispatcher.archive([written_ticket("F0")]))
    ((_, answer),) = feed(md, root, finished(part, status=["NOT_IN_CACHE", "no listed file"]))
    assert dispatcher.read_reply(answer)["status"] == ["NOT_IN_CACHE", "no listed file"]


def test_state_survives_a_restart(root):
    ((_, part),) = feed(start(root), root, dispatcher.archive([written_ticket("F0")], reply_to="pe_reply"))
    ((spool, answer),) = feed(start(root), root, finished(part))
    assert answer.type == "MDR_ARCHIVED"


def test_a_silent_worker_is_asked_then_its_part_dispatched_again(root):
    md = start(root, silence=0.05)
    ((_, part),) = feed(md, root, dispatcher.archive([written_ticket("F0")]))
    started = started_notice(part)
    assert feed(md, root, worker.reply(part, OK, started, progress=True)) == []
    time.sleep(0.1)
    ((spool, query),) = feed(md, root, timer.tick())
    assert (spool, query.type, query.reply_to) == ("mw_w1", "MWC_STATUS", "md_reply")
    time.sleep(0.1)
    ((spool, again),) = feed(md, root, timer.tick())
    assert (spool, again.type) == ("mw", "MWC_ARCHIVE")
    assert worker.read_command(again)[1]["part"] == started["part"]
    ((_, answer),) = feed(md, root, finished(again, worker_id="w2"))  # the second worker finishes it
    assert answer.type == "MDR_ARCHIVED"
    assert feed(md, root, finished(part)) == []  # the first one's late answer is ignored


def test_a_worker_that_answers_it_is_idle_gets_the_part_again(root):
    md = start(root, silence=0.05)
    ((_, part),) = feed(md, root, dispatcher.archive([written_ticket("F0")]))
    part_id = worker.read_command(part)[1]["part"]
    started = started_notice(part)
    feed(md, root, worker.reply(part, OK, started, progress=True))
    time.sleep(0.1)
    ((_, query),) = feed(md, root, timer.tick())
    idle = worker.reply(query, OK, {"worker": "w1", "part": None, "state": "idle", "asked": part_id})
    ((spool, again),) = feed(md, root, idle)
    assert (spool, again.type) == ("mw", "MWC_ARCHIVE")


def test_a_part_nobody_finishes_fails_the_request_after_the_last_dispatch(root):
    md = start(root, silence=0.01, max_dispatches=1)
    ((_, part),) = feed(md, root, dispatcher.archive([written_ticket("F0")]))
    started = started_notice(part)
    feed(md, root, worker.reply(part, OK, started, progress=True))
    time.sleep(0.03)
    feed(md, root, timer.tick())
    time.sleep(0.03)
    ((spool, answer),) = feed(md, root, timer.tick())
    assert dispatcher.read_reply(answer)["status"][0] == "TIMEDOUT"
