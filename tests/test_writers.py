"""Writers: one typed hook, write(item) -> element name; refusals write nothing; found by name."""

from __future__ import annotations

import pytest

from spoolq.enstore.disk_mover import CacheFile, DiskMover
from spoolq.enstore.udp.proxy import Datagram, UdpProxy
from spoolq.errors import HandlerNotFound, PluginNotFound, WriteRefused
from spoolq.handlers.registry import BUILTINS, load_handler
from spoolq.spool import SpoolRoot
from spoolq.writers.registry import writer_class

PEER = ("127.0.0.1", 40000)


@pytest.fixture
def bridge(root_dir):
    proxy = UdpProxy(SpoolRoot(root_dir, durable=False), "lmd", "lmd_udp_reply", max_size=64)
    yield proxy
    proxy.sock.close()


def test_the_disk_mover_writes_a_cache_file_and_returns_the_cache_written_element(root_dir, tmp_path):
    root = SpoolRoot(root_dir, durable=False)
    mover = DiskMover(root, str(tmp_path / "cache"), str(tmp_path / "archive"))
    name = mover.write(CacheFile("F00001", "/pnfs/t/1", b"payload"))
    message = root.spool("pe").get(name)
    assert message.type == "CACHE_WRITTEN"
    assert message.payload()["file"] == {"name": "/pnfs/t/1", "id": "F00001", "size": 7}


def test_the_udp_bridge_writes_a_datagram_and_remembers_its_sender(bridge, root_dir):
    name = bridge.write(Datagram(b'{"work": "get_work"}', PEER))
    message = SpoolRoot(root_dir).spool("lmd").get(name)
    assert (message.type, message.reply_to) == ("get_work", "lmd_udp_reply")
    assert bridge.waiting.pop(message.message_id or "")[0] == PEER


@pytest.mark.parametrize(
    ("data", "kind"), [(b"x" * 65, "oversized"), (b"\xff\xfe", "malformed"), (b"[1, 2]", "malformed")]
)
def test_a_datagram_that_cannot_become_a_message_is_refused_and_nothing_is_written(
    bridge, root_dir, data, kind
):
    with pytest.raises(WriteRefused) as refused:
        bridge.write(Datagram(data, PEER))
    assert refused.value.kind == kind
    assert list(SpoolRoot(root_dir).spool("lmd").names()) == []


def test_the_applications_writers_and_handlers_are_entry_points_not_builtins():
    assert writer_class("disk_mover") is DiskMover and writer_class("udp_proxy") is UdpProxy
    assert not {"policy_engine", "migration_dispatcher", "migration_worker"} & set(BUILTINS)
    assert type(load_handler("policy_engine")).__name__ == "PolicyEngine"


def test_an_unknown_writer_or_handler_names_the_builtins_and_the_installed_ones():
    with pytest.raises(
        PluginNotFound, match=r"writer 'mover': not a built-in \(none\).*disk_mover, udp_proxy"
    ):
        writer_class("mover")
    with pytest.raises(
        HandlerNotFound, match=r"installed: migration_dispatcher, migration_worker, policy_engine"
    ):
        load_handler("policy")
