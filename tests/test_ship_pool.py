"""A pool: several nodes' receivers share one destination, ``COMPONENT@POOL``; each message reaches one."""

from __future__ import annotations

import pytest

from spoolq.errors import ConfigError
from spoolq.message import Message
from spoolq.shippers.config import load_shipping
from spoolq.testbed.shipping import root_of, running, unique, write_node_config
from tests.waiting import wait_until


def test_receivers_of_one_pool_share_its_messages_and_park_none(broker, tmp_path):
    pool = unique("pool")
    sender = write_node_config(tmp_path / "a", unique("a"), broker)
    members = [
        write_node_config(tmp_path / name, unique(name), broker, receive_extra=f'pool = "{pool}"\n')
        for name in ("b", "c")
    ]
    sent = [Message.new("file", f"file {n}", to=f"archive@{pool}") for n in range(400)]
    root_of(sender).spool("outgoing").put_many(sent)
    archives = [root_of(member).spool("archive") for member in members]
    with running(members[0], "in"), running(members[1], "in"), running(sender, "out"):
        wait_until(lambda: sum(a.count() for a in archives) >= len(sent), 120, "every message in an archive")
    got = [archive.get(name).message_id for archive in archives for name in archive.names()]
    assert sorted(got) == sorted(m.message_id for m in sent)  # each once, none lost
    assert all(root_of(member).parked("incoming").count() == 0 for member in members)


@pytest.mark.parametrize(
    ("extra", "kind", "words"),
    [
        ('pool = "pool"\n', "ship", 'only a receiver (kind = "receive")'),
        ('pool = "a/b"\n', "receive", "'a/b' is not a valid node name"),
        ('pool = "../x"\n', "receive", "'../x' is not a valid node name"),
    ],
)
def test_a_bad_pool_is_refused_naming_file_and_key(tmp_path, broker, extra, kind, words):
    keyword = "ship_extra" if kind == "ship" else "receive_extra"
    path = write_node_config(tmp_path, "a", broker, **{keyword: extra})
    with pytest.raises(ConfigError) as caught:
        load_shipping(str(path))
    message = str(caught.value)
    assert str(path) in message and ".pool" in message and words in message


def test_a_pool_needs_a_destination_that_names_it(tmp_path, broker):
    path = write_node_config(tmp_path, "a", broker, receive_extra='pool = "pool"\n')
    text = path.read_text().replace('address = "/queue/spoolq-test.{node}"', 'address = "/queue/fixed"')
    path.write_text(text)
    with pytest.raises(ConfigError, match="holds {node}"):
        load_shipping(str(path))
