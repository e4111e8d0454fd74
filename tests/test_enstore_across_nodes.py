"""The Enstore components on different nodes: every message they send finds its way through ``outgoing``."""

from __future__ import annotations

import os

import pytest

from spoolq.enstore.cachefs import cached_path
from spoolq.enstore.catalogue import worker
from spoolq.enstore.disk_mover import CacheFile, DiskMover
from spoolq.enstore.handlers.migration_worker import MigrationWorker
from spoolq.handlers.base import Context
from spoolq.message import Message
from spoolq.routing import RoutingError
from spoolq.spool import SpoolRoot
from tests.enstore.tickets import written_ticket


def messages(root: SpoolRoot, spool: str) -> list:
    target = root.spool(spool)
    return [target.get(name) for name in target.names()]


def worker_on_node3(tmp_path, **options) -> tuple[MigrationWorker, SpoolRoot, str]:
    root = SpoolRoot(tmp_path / "root", durable=False)
    cache = str(tmp_path / "cache")
    handler = MigrationWorker(
        {"worker_id": "w1", "archive": str(tmp_path / "archive"), "cache": cache, **options}
    )
    handler.setup(Context("mw1", "mw", root, node="node3"))
    return handler, root, cache


def cached_ticket(cache: str, file_id: str = "F0001") -> dict:
    ticket = written_ticket(file_id, cache=cache, size=4)
    os.makedirs(os.path.dirname(cached_path(ticket)), exist_ok=True)
    with open(cached_path(ticket), "wb") as handle:
        handle.write(b"data")
    return ticket


def test_a_worker_tells_a_dispatcher_on_another_node_who_works_on_a_part_and_where_to_ask(tmp_path):
    handler, root, cache = worker_on_node3(tmp_path)
    command = worker.command(worker.MWC_ARCHIVE, "p1", [cached_ticket(cache)], reply_to="md_reply@node2")
    handler.handle(command, Context("mw1", "mw", root, node="node3"))
    (notice,) = messages(root, "outgoing")
    _, body = worker.read_reply(notice)
    assert notice.header["to"] == "md_reply@node2"
    assert notice.correlation_id == command.message_id
    assert (body["state"], body["spool"]) == ("started", "mw_w1@node3")


def test_a_worker_answers_a_status_query_with_an_address_that_reaches_it_from_another_node(tmp_path):
    handler, root, _ = worker_on_node3(tmp_path)
    answer = handler.handle(
        worker.status_query("p1", reply_to="md_reply@node2"), Context("mw1", "mw_w1", root, node="node3")
    )
    assert worker.read_reply(answer)[1]["spool"] == "mw_w1@node3"


def test_a_worker_sends_its_cache_events_to_the_policy_engine_where_it_is_configured(tmp_path):
    handler, root, cache = worker_on_node3(tmp_path, pe_spool="pe@node1")
    ticket = cached_ticket(cache)
    handler.handle(
        worker.command(worker.MWC_ARCHIVE, "p1", [ticket], reply_to="md_reply@node2"),
        Context("mw1", "mw", root, node="node3"),
    )
    context = Context("mw1", "mw", root, node="node3")
    handler.handle(worker.command(worker.MWC_PURGE, "p2", [ticket], reply_to="md_reply@node2"), context)
    assert [(target, message.type) for target, message in context.outbox] == [("pe@node1", "CACHE_PURGED")]


def test_the_disk_mover_on_one_node_reaches_a_policy_engine_on_another(tmp_path):
    root = SpoolRoot(tmp_path / "root", durable=False)
    mover = DiskMover(
        root, str(tmp_path / "cache"), str(tmp_path / "archive"), pe_spool="pe@node1", node="node3"
    )
    name = mover.write(CacheFile("F00001", "/pnfs/t/1", b"payload"))
    message = root.spool("outgoing").get(name)
    assert (message.type, message.header["to"]) == ("CACHE_WRITTEN", "pe@node1")
    assert list(root.spool("pe").names()) == []


def test_the_disk_mover_addressing_its_own_node_writes_the_local_spool(tmp_path):
    root = SpoolRoot(tmp_path / "root", durable=False)
    mover = DiskMover(
        root, str(tmp_path / "cache"), str(tmp_path / "archive"), pe_spool="pe@node3", node="node3"
    )
    name = mover.write(CacheFile("F00001", "/pnfs/t/1", b"payload"))
    assert root.spool("pe").get(name).type == "CACHE_WRITTEN"


def test_a_disk_mover_given_an_address_that_names_no_node_is_refused_before_it_caches_anything(tmp_path):
    root = SpoolRoot(tmp_path / "root", durable=False)
    with pytest.raises(RoutingError, match=r"node 'a/b' is not a valid node name"):
        DiskMover(root, str(tmp_path / "cache"), str(tmp_path / "archive"), pe_spool="pe@a/b")
    assert not (tmp_path / "cache").exists()


def test_a_worker_whose_pe_spool_names_no_node_fails_at_setup(tmp_path):
    options = {"worker_id": "w1", "archive": str(tmp_path / "archive"), "pe_spool": "pe@../x"}
    handler = MigrationWorker(options)
    with pytest.raises(RoutingError, match=r"node '\.\./x' is not a valid node name"):
        handler.setup(Context("mw1", "mw", SpoolRoot(tmp_path / "root", durable=False), node="node3"))


def test_a_writer_emitting_to_an_address_that_names_no_node_writes_nothing(tmp_path):
    root = SpoolRoot(tmp_path / "root", durable=False)
    mover = DiskMover(root, str(tmp_path / "cache"), str(tmp_path / "archive"), node="node3")
    with pytest.raises(RoutingError, match=r"node 'a/b' is not a valid node name"):
        mover.emit("md@a/b", Message.new("MDC_PURGE", b"{}"))
    assert list(root.spool("outgoing").names()) == [] and list(root.spool("md").names()) == []
