"""The broker cluster on loopback hosts (no root needed): what the demo falls back to; same interface."""

from __future__ import annotations

import time

import pytest

from spoolq.message import Message
from spoolq.testbed.cluster import BrokerCluster, rabbitmq_installed
from spoolq.testbed.hosts import open_hosts
from spoolq.testbed.shipping import root_of, running, unique, write_node_config

pytestmark = [
    pytest.mark.skipif(rabbitmq_installed() is not None, reason=str(rabbitmq_installed())),
    pytest.mark.timeout(600),
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    with open_hosts(3, loopback=True) as hosts:
        made = BrokerCluster(tmp_path_factory.mktemp("loopback-cluster"), hosts)
        try:
            made.start()
            yield made
        finally:
            made.close()


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout * 5) + 1):
        if condition():
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def test_three_nodes_on_distinct_ports_form_one_cluster(cluster):
    assert len(cluster.members()) == 3
    assert len({node.stomp_port for node in cluster.nodes}) == 3
    assert all(h.startswith("127.0.0.1:") for h in cluster.stomp_hosts())


def test_a_quorum_queue_outlives_a_killed_node_and_the_node_comes_back(cluster, tmp_path):
    b = unique("b")
    quorum = 'queue_type = "quorum"\n'
    first, others = cluster.stomp_hosts()[:1], cluster.stomp_hosts()[1:]
    node = cluster.nodes[0]
    sender = write_node_config(tmp_path / "a", unique("a"), node, hosts=first, destination_extra=quorum)
    receiver = write_node_config(tmp_path / "b", b, node, hosts=others, destination_extra=quorum)
    root_of(sender).spool("outgoing").put_many(Message.new("x", str(n), to=f"md@{b}") for n in range(200))
    with running(sender, "out") as (out,):
        wait_for(lambda: out.status.done == 200, 120, "200 sent to the first node")
    cluster.kill(0)  # the node that took them; the queue lives on in the other two
    assert len(cluster.members()) == 2
    md = root_of(receiver).spool("md")
    with running(receiver, "in"):
        wait_for(lambda: md.count() == 200, 120, "all 200 from the surviving nodes")
    cluster.start_node(0)
    cluster.wait_for_members(3, 120)  # its stale pid file did not stop it
