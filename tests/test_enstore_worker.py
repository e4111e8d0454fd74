"""Migration Worker: real tar containers, real files, the copy command run for real."""

from __future__ import annotations

import os
import shutil
import tarfile

import pytest

from spoolq.enstore import filedb
from spoolq.enstore.cachefs import adler32, cached_path
from spoolq.enstore.catalogue import worker
from spoolq.enstore.copier import CopyError
from spoolq.enstore.handlers.migration_worker import MigrationWorker
from spoolq.errors import Reject
from spoolq.handlers.base import Context
from spoolq.spool import SpoolRoot
from tests.enstore.tickets import missed_ticket, written_ticket


@pytest.fixture
def site(tmp_path):
    root = SpoolRoot(tmp_path / "root", durable=False)
    return root, str(tmp_path / "cache"), str(tmp_path / "archive")


def start(site, **options) -> MigrationWorker:
    root, cache, archive = site
    handler = MigrationWorker({"worker_id": "w1", "archive": archive, "cache": cache, **options})
    handler.setup(Context("mw1", "mw", root))
    return handler


def put_in_cache(site, count: int) -> tuple[list[dict], dict[str, bytes]]:
    _, cache, _ = site
    tickets, contents = [], {}
    for n in range(count):
        data = os.urandom(100 + n)
        ticket = written_ticket(f"F{n:04d}", cache=cache, size=len(data))
        os.makedirs(os.path.dirname(cached_path(ticket)), exist_ok=True)
        with open(cached_path(ticket), "wb") as handle:
            handle.write(data)
        tickets.append(ticket)
        contents[ticket["file"]["id"]] = data
    return tickets, contents


def run(handler: MigrationWorker, site, command):
    context = Context("mw1", "mw", site[0])
    answer = handler.handle(command, context)
    return worker.read_reply(answer), context.outbox


def archive(handler, site, tickets, part="p1"):
    command = worker.command(worker.MWC_ARCHIVE, part, tickets, reply_to="md_reply")
    return run(handler, site, command)


def test_archive_packs_the_files_into_one_container_and_records_them(site):
    handler = start(site)
    tickets, contents = put_in_cache(site, 5)
    (type_, body), _ = archive(handler, site, tickets)
    assert type_ == "MWR_ARCHIVED" and body["status"] == ["ok", ""]
    container = os.path.join(site[2], "p1.tar")
    with tarfile.open(container) as tar:
        assert {m.name: tar.extractfile(m).read() for m in tar} == contents
    record = filedb.locate(site[2], "F0003")
    assert record == {
        "container": "p1.tar",
        "member": "F0003",
        "crc_adler32": adler32(contents["F0003"]),
        "size": 103,
    }
    assert [n for n in os.listdir(site[2]) if ".tmp-" in n] == []


def test_the_worker_says_at_once_who_works_on_a_part(site):
    handler = start(site)
    tickets, _ = put_in_cache(site, 1)
    archive(handler, site, tickets)
    (notice,) = [site[0].spool("md_reply").get(n) for n in site[0].spool("md_reply").names()]
    type_, body = worker.read_reply(notice)
    assert (type_, body["state"], body["spool"], body["part"]) == ("MWR_STATUS", "started", "mw_w1", "p1")


def test_archive_through_an_external_copy_command(site):
    handler = start(site, copy_command=[shutil.which("cp"), "{src}", "{dst}"])
    tickets, contents = put_in_cache(site, 3)
    (_, body), _ = archive(handler, site, tickets)
    assert body["status"][0] == "ok"
    with tarfile.open(os.path.join(site[2], "p1.tar")) as tar:
        assert len(tar.getmembers()) == 3


def test_a_failing_copy_command_leaves_no_container(site):
    handler = start(site, copy_command=[shutil.which("false")])
    tickets, _ = put_in_cache(site, 2)
    with pytest.raises(CopyError, match="exited 1"):
        archive(handler, site, tickets)
    assert os.listdir(site[2]) == []


def test_an_archived_part_dispatched_again_is_not_rewritten(site):
    handler = start(site)
    tickets, _ = put_in_cache(site, 2)
    archive(handler, site, tickets)
    before = os.stat(os.path.join(site[2], "p1.tar")).st_mtime_ns
    for ticket in tickets:
        os.unlink(cached_path(ticket))  # purged meanwhile: a rewrite would lose them
    (_, body), _ = archive(handler, site, tickets)
    assert body["status"][0] == "ok" and all("container" in f for f in body["files"])
    assert os.stat(os.path.join(site[2], "p1.tar")).st_mtime_ns == before


def stage_command(site, tickets, contents, container="p1.tar"):
    missed = [missed_ticket(t["file"]["id"], container, adler32(contents[t["file"]["id"]])) for t in tickets]
    return worker.command(worker.MWC_STAGE, "s1", missed, reply_to="md_reply", container=container)


def test_stage_unpacks_requested_files_into_the_cache(site):
    handler = start(site)
    tickets, contents = put_in_cache(site, 4)
    archive(handler, site, tickets)
    for ticket in tickets:
        os.unlink(cached_path(ticket))
    (type_, body), outbox = run(handler, site, stage_command(site, tickets[:2], contents))
    assert (type_, body["status"]) == ("MWR_STAGED", ["ok", ""])
    for ticket in tickets[:2]:
        with open(cached_path(ticket), "rb") as handle:
            assert handle.read() == contents[ticket["file"]["id"]]
    assert not os.path.exists(cached_path(tickets[2]))
    assert [(spool, m.type) for spool, m in outbox] == [("pe", "CACHE_STAGED")] * 2


def test_a_corrupted_container_is_reported_and_not_served(site):
    handler = start(site)
    tickets, contents = put_in_cache(site, 2)
    archive(handler, site, tickets)
    for ticket in tickets:
        os.unlink(cached_path(ticket))
    container = os.path.join(site[2], "p1.tar")
    with open(container, "r+b") as handle:  # flip bytes in the first member's data
        handle.seek(512 + 10)
        handle.write(b"\xff\xfe\xfd")
    (_, body), outbox = run(handler, site, stage_command(site, tickets, contents))
    assert body["status"][0] == "CRC_MISMATCH"
    assert "checksum mismatch" in body["files"][0]["error"]
    assert not os.path.exists(cached_path(tickets[0]))
    assert len(outbox) == 1  # the intact second file is served


def test_a_missing_container_is_reported(site):
    handler = start(site)
    tickets, contents = put_in_cache(site, 1)
    (_, body), outbox = run(handler, site, stage_command(site, tickets, contents, container="nope.tar"))
    assert body["status"][0] == "CRC_MISMATCH" and "not found" in body["files"][0]["error"]
    assert outbox == []


def test_purge_deletes_cache_copies_of_archived_files_only(site):
    handler = start(site)
    tickets, _ = put_in_cache(site, 3)
    archive(handler, site, tickets[:2])
    command = worker.command(worker.MWC_PURGE, "x1", tickets, reply_to="md_reply")
    (type_, body), outbox = run(handler, site, command)
    assert (type_, body["status"][0]) == ("MWR_PURGED", "NOT_ARCHIVED")
    assert [os.path.exists(cached_path(t)) for t in tickets] == [False, False, True]
    assert [(spool, m.type) for spool, m in outbox] == [("pe", "CACHE_PURGED")] * 2


def test_status_reports_progress(site):
    handler = start(site)
    tickets, _ = put_in_cache(site, 1)
    archive(handler, site, tickets)
    (type_, body), _ = run(handler, site, worker.status_query("p1", reply_to="md_reply"))
    assert (type_, body["worker"], body["state"], body["asked"], body["pid"]) == (
        "MWR_STATUS",
        "w1",
        "idle",
        "p1",
        os.getpid(),
    )


def test_a_ticket_pointing_outside_the_cache_is_rejected_and_nothing_is_deleted(site, tmp_path):
    handler = start(site)
    tickets, _ = put_in_cache(site, 1)
    archive(handler, site, tickets)
    victim = tmp_path / "elsewhere" / "precious"
    victim.parent.mkdir()
    victim.write_text("keep")
    ticket = written_ticket("F0000", cache=str(victim.parent))
    ticket["cache"]["en"].update(path=".", name="precious")
    command = worker.command(worker.MWC_PURGE, "x1", [ticket], reply_to="md_reply")
    with pytest.raises(Reject, match="is not in the cache"):
        run(handler, site, command)
    assert victim.read_text() == "keep"
