"""spoolq nodes on hosts of their own, through a 3-node RabbitMQ cluster with quorum queues.

The brokers run on hosts mq1..mq3 and the spoolq nodes on hosts a, b and c
(network namespaces, :mod:`spoolq.testbed.hosts`), each node with its own
root, configuration and daemons started there as an operator would.  Every
failover list names the three broker nodes, in order from the one the test
wants the shippers on (``order = "in-order"``), so that the node killed is
the one they are connected to.

The cluster starts once for the module and the tests run in file order:
replies and competing receivers on the whole cluster, then one broker node
killed for good, then a second one (the quorum's majority gone) and started
again.  Figures are printed (run with ``-s``) and kept as test properties.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from spoolq.message import Message
from spoolq.testbed.cluster import BrokerCluster, rabbitmq_installed
from spoolq.testbed.daemons import Daemon
from spoolq.testbed.hosts import namespaces_unavailable, open_hosts
from spoolq.testbed.shipping import root_of, unique, write_node_config
from tests.conftest import cli_env
from tests.run_helpers import component_table

UNAVAILABLE = namespaces_unavailable() or rabbitmq_installed()
pytestmark = [
    pytest.mark.skipif(UNAVAILABLE is not None, reason=f"no broker cluster across hosts: {UNAVAILABLE}"),
    pytest.mark.timeout(900),
]

QUORUM = 'queue_type = "quorum"\n'
IN_ORDER = 'order = "in-order"\n'


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Six hosts, and a 3-node cluster on mq1..mq3; every node's data in one temporary directory."""
    directory = tmp_path_factory.mktemp("site")
    with open_hosts(["mq1", "mq2", "mq3", "a", "b", "c"], loopback=False) as hosts:
        cluster = BrokerCluster(directory / "brokers", hosts[:3])
        try:
            started = time.monotonic()
            cluster.start()
            print(f"\ncluster of 3 formed in {time.monotonic() - started:.1f} s")
            yield Site(directory, hosts, cluster)
        finally:
            cluster.close()
        # Stopped, not merely abandoned to the namespaces' deletion: no node, no epmd left.
        left = {h.name: [p for p in h.pids() if _is_running(p)] for h in hosts[:3]}
        assert not any(left.values()), f"still running after the cluster was closed: {left}"


class Site:
    """The hosts and the cluster, and the spoolq daemons a test starts on them (all stopped at its end)."""

    def __init__(self, directory: Path, hosts, cluster: BrokerCluster):
        self.directory, self.hosts, self.cluster = directory, hosts, cluster
        self.daemons: list[Daemon] = []

    def failover_list(self, first: str) -> list[str]:
        """The cluster's STOMP hosts, starting at broker node ``first`` (mq1, mq2 or mq3)."""
        listed = self.cluster.stomp_hosts()
        at = self.cluster.nodes.index(self.cluster.node(first))
        return listed[at:] + listed[:at]

    def node_config(self, host: str, node: str, first: str, **extra: str) -> Path:
        """Node ``node`` on ``host``: its root and configuration, quorum queues, ``first`` broker first."""
        return write_node_config(
            self.directory / node,
            node,
            self.cluster.nodes[0],
            hosts=self.failover_list(first),
            broker_extra=IN_ORDER,
            destination_extra=QUORUM,
            **extra,
        )

    def start(self, host: str, config: Path, *args: str) -> Daemon:
        """``spoolq -c CONFIG ARGS`` on ``host``, logging beside the configuration."""
        name = "-".join(a.lstrip("-") for a in args)
        log = config.parent / f"{name}.log"
        daemon = Daemon(name, ["-c", str(config), *args], log, cli_env(), runs_on=self.hosts[host])
        daemon.start()
        self.daemons.append(daemon)
        return daemon

    def stop_all(self) -> None:
        for daemon in self.daemons:
            daemon.stop()
        self.daemons.clear()


@pytest.fixture
def nodes(site):
    yield site
    site.stop_all()


def status(config: Path, shipper: str) -> dict:
    """What the shipper's status file says now ({} before its first write)."""
    try:
        return json.loads((config.parent / "root" / ".shippers" / f"{shipper}.json").read_text())
    except (OSError, ValueError):
        return {}


def wait_for(condition, timeout: float, what: str, every: float = 0.2):
    """Poll ``condition`` until it is true, at most ``timeout`` seconds; its value."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / every) + 1):
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            break
        time.sleep(every)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def connected_to(config: Path, shipper: str, broker_address: str) -> bool:
    now = status(config, shipper)
    return now.get("state") == "connected" and now.get("broker", "").startswith(broker_address + ":")


def ids_in(spool) -> list[str]:
    return [spool.get(name).message_id for name in spool.names()]


def test_replies_to_requests_come_back_across_the_cluster(nodes, record_property):
    a, b = unique("a"), unique("b")
    requester = nodes.node_config("a", a, "mq2")
    server = nodes.node_config("b", b, "mq3", top_extra=component_table("md"))
    requests = [Message.new("ask", f"question {n}", to=f"md@{b}", reply_to=f"client@{a}") for n in range(50)]
    nodes.start("b", server, "run")
    nodes.start("a", requester, "run")
    root_of(requester).spool("outgoing").put_many(requests)
    client = root_of(requester).spool("client")
    wait_for(lambda: client.count() >= len(requests), 300, "every reply in a's spool client")
    replies = [client.get(name) for name in client.names()]
    assert {r.correlation_id for r in replies} == {r.message_id for r in requests}
    by_request = {r.correlation_id: r.body for r in replies}
    assert all(by_request[q.message_id] == f"{q.body} by md" for q in requests)
    assert len(replies) == len(requests)


def test_competing_receivers_share_a_pool_and_a_dead_ones_messages_go_to_the_other(nodes, record_property):
    a, b, c = unique("a"), unique("b"), unique("c")
    total = 3000
    sender = nodes.node_config("a", a, "mq1")
    pool = 'pool = "pool"\n'
    first = nodes.node_config("b", b, "mq2", receive_extra=pool)
    second = nodes.node_config("c", c, "mq3", receive_extra=pool)
    archive_b, archive_c = root_of(first).spool("archive"), root_of(second).spool("archive")
    receiver_b = nodes.start("b", first, "receive", "--shipper", "in")
    nodes.start("c", second, "receive", "--shipper", "in")
    wait_for(lambda: status(first, "in").get("state") == "connected", 120, "receiver b subscribed")
    wait_for(lambda: status(second, "in").get("state") == "connected", 120, "receiver c subscribed")
    sent = [Message.new("file", f"file {n}", to="archive@pool") for n in range(total)]
    root_of(sender).spool("outgoing").put_many(sent)
    nodes.start("a", sender, "ship", "--shipper", "out")
    wait_for(lambda: archive_b.count() >= total // 6, 300, "a sixth at receiver b")
    receiver_b.kill()
    at_death = archive_b.count()
    assert at_death + archive_c.count() < total  # b died mid-way, with messages in its hands
    wait_for(lambda: len(set(ids_in(archive_b)) | set(ids_in(archive_c))) >= total, 600, "every message")
    handled_b, handled_c = ids_in(archive_b), ids_in(archive_c)
    assert archive_b.count() == at_death  # nothing more reached the dead one
    everything = handled_b + handled_c
    duplicates = len(everything) - len(set(everything))
    assert set(everything) == {m.message_id for m in sent}  # none lost
    assert len(set(handled_c)) == len(handled_c) and len(set(handled_b)) == len(handled_b)
    # A message handled twice was in b's hands when it died: written, but its ack never reached the broker.
    assert duplicates <= 200  # at most what b held unacked: its prefetch
    assert len(handled_c) > 0 and len(handled_b) > 0  # both competed
    record_property("pool duplicates", duplicates)
    shares = f"b {len(handled_b)}, c {len(handled_c)}"
    print(f"\ncompeting receivers: {shares}, duplicates {duplicates} (from b's death)")


def test_a_broker_node_killed_for_good_loses_nothing_and_doubles_nothing(nodes, record_property):
    a, b = unique("a"), unique("b")
    total = 10_000
    sender = nodes.node_config("a", a, "mq1")
    receiver = nodes.node_config("b", b, "mq1")
    md = root_of(receiver).spool("md")
    nodes.start("b", receiver, "receive", "--shipper", "in")
    mq1 = nodes.cluster.node("mq1").host
    wait_for(lambda: connected_to(receiver, "in", mq1), 120, "the receiver on mq1")
    queue = f"spoolq-test.{b}"
    wait_for(lambda: nodes.cluster.queue_leader(queue), 120, "the queue the receiver declared", every=1)
    assert nodes.cluster.queue_leader(queue) == nodes.cluster.node("mq1").nodename  # the node to be killed
    sent = [Message.new("x", str(n), to=f"md@{b}") for n in range(total)]
    root_of(sender).spool("outgoing").put_many(sent)
    nodes.start("a", sender, "ship", "--shipper", "out")
    wait_for(lambda: connected_to(sender, "out", mq1), 120, "the shipper on mq1")
    wait_for(lambda: md.count() >= total // 3, 600, "a third delivered")

    nodes.cluster.kill("mq1")  # kill -9, and never started again
    killed_at = time.monotonic()
    at_kill = md.count()
    assert at_kill < total - 1000  # mid-transfer
    # Resumed: more arrived than the receiver could have held when the node died (its prefetch).
    wait_for(lambda: md.count() > at_kill + 200, 300, "delivery resumed through the survivors", every=0.05)
    resumed = time.monotonic() - killed_at
    wait_for(lambda: md.count() >= total, 900, "every message delivered")
    time.sleep(2)  # a late double would show now
    received = ids_in(md)
    lost = len({m.message_id for m in sent} - set(received))
    doubled = len(received) - len(set(received))
    record_property("resume after node kill (s)", round(resumed, 2))
    print(f"\nnode kill: resumed after {resumed:.2f} s, {lost} lost, {doubled} doubled, of {total}")
    assert (lost, doubled) == (0, 0)
    outgoing = root_of(sender).spool("outgoing")
    wait_for(lambda: outgoing.count() == 0, 300, "the outgoing spool emptied by the receipts")
    assert not connected_to(sender, "out", mq1) and not connected_to(receiver, "in", mq1)


def test_with_the_majority_gone_messages_wait_in_the_spool_until_a_node_returns(nodes, cli, record_property):
    a, b = unique("a"), unique("b")
    total = 1000
    nodes.cluster.kill("mq1")  # if the test before did not: one node dead already
    sender = nodes.node_config("a", a, "mq3")
    receiver = nodes.node_config("b", b, "mq3")
    md = root_of(receiver).spool("md")
    outgoing = root_of(sender).spool("outgoing")
    nodes.start("b", receiver, "receive", "--shipper", "in")
    nodes.start("a", sender, "ship", "--shipper", "out")
    outgoing.put_many(Message.new("x", str(n), to=f"md@{b}") for n in range(100))
    wait_for(lambda: md.count() == 100, 300, "the first 100 through the two live nodes")

    nodes.cluster.kill("mq2")  # one of three left: no majority for the quorum queue
    sent = [Message.new("x", str(n), to=f"md@{b}") for n in range(100, total)]
    outgoing.put_many(sent)
    waiting = wait_for(
        lambda: (s := status(sender, "out")).get("state") == "waiting" and s, 120, "the shipper says it waits"
    )
    assert waiting["reason"].startswith("no receipt for ")  # and why
    shown = cli("-c", str(sender), "stats", "--json")
    rows = [json.loads(line) for line in shown.stdout.decode().splitlines() if line.strip()]
    out = [row for row in rows if row.get("shipper") == "out"]
    assert out and out[0]["state"] == "waiting" and "no receipt for" in out[0]["reason"], shown.stdout
    assert out[0]["done"] == 100  # nothing counted as sent without a receipt
    time.sleep(10)
    assert outgoing.count() > 0  # nothing confirmed without a majority: it waits in the spool
    assert md.count() + outgoing.count() >= 100  # and nothing vanished

    nodes.cluster.start_node("mq2")
    restarted = time.monotonic()
    wait_for(lambda: md.count() >= total, 600, "every message once the majority is back")
    after = time.monotonic() - restarted
    print(f"\nmajority back: all {total} delivered {after:.1f} s after mq2 started again")
    received = ids_in(md)
    assert len(received) == len(set(received)) == total
    wait_for(lambda: outgoing.count() == 0, 300, "the outgoing spool emptied by the receipts")


def test_nothing_is_left_running_in_the_hosts_but_the_brokers(site):
    """Each test's daemons were stopped; only the broker nodes and their epmd remain, to be closed."""
    for name in ("a", "b", "c"):
        alive = [pid for pid in site.hosts[name].pids() if _is_running(pid)]
        assert not alive, f"left on host {name}: {alive}"


def _is_running(pid: int) -> bool:
    done = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True)
    return done.returncode == 0 and not done.stdout.strip().startswith("Z")
