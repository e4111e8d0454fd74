"""``order`` of a broker's failover list: random (the default) or in order; the lost host goes last."""

from __future__ import annotations

import logging

import pytest

from spoolq.errors import ConfigError
from spoolq.message import Message
from spoolq.shippers.config import load_shipping
from spoolq.shippers.failover import hosts_to_try
from spoolq.shippers.link import Link
from spoolq.testbed.broker import free_port
from spoolq.testbed.shipping import root_of, running, unique, write_node_config
from tests.waiting import wait_until

IN_ORDER = 'order = "in-order"\n'


def where_opens_land(config_path, times: int, lost: str | None = None) -> list[str]:
    """Open and close a link ``times`` times; the host:port each one connected to."""
    broker = load_shipping(str(config_path)).brokers["main"]
    landed = []
    for _ in range(times):
        link = Link(broker, send_timeout=5)
        link.open(lost)
        landed.append(link.where)
        link.close()
    return landed


def test_an_unknown_order_is_refused_naming_file_and_key(tmp_path, broker):
    path = write_node_config(tmp_path, "a", broker, broker_extra='order = "roundrobin"\n')
    with pytest.raises(ConfigError) as caught:
        load_shipping(str(path))
    assert str(path) in str(caught.value) and "brokers.main.order" in str(caught.value)
    assert "must be one of random, in-order" in str(caught.value)


def test_the_host_just_lost_is_tried_last_and_in_order_keeps_the_rest_in_order():
    hosts = (("a", 1), ("b", 2), ("c", 3))
    assert hosts_to_try(hosts, "in-order") == [("a", 1), ("b", 2), ("c", 3)]
    assert hosts_to_try(hosts, "in-order", lost="a:1") == [("b", 2), ("c", 3), ("a", 1)]
    assert hosts_to_try(hosts, "in-order", lost="b:2") == [("a", 1), ("c", 3), ("b", 2)]
    for _ in range(20):
        assert hosts_to_try(hosts, "random", lost="b:2")[-1] == ("b", 2)


def test_in_order_always_lands_on_the_first_live_host(broker, tmp_path):
    first, second = f"127.0.0.1:{broker.stomp_port}", f"127.0.0.1:{broker.second_stomp_port}"
    path = write_node_config(tmp_path / "a", "a", broker, hosts=[first, second], broker_extra=IN_ORDER)
    assert where_opens_land(path, 8) == [first] * 8
    closed = f"127.0.0.1:{free_port()}"
    hosts = [closed, second, first]
    path = write_node_config(tmp_path / "b", "b", broker, hosts=hosts, broker_extra=IN_ORDER)
    assert where_opens_land(path, 4) == [second] * 4  # the first host is down: the next one, every time


def test_random_order_spreads_over_the_hosts(broker, tmp_path):
    first, second = f"127.0.0.1:{broker.stomp_port}", f"127.0.0.1:{broker.second_stomp_port}"
    path = write_node_config(tmp_path, "a", broker, hosts=[first, second])
    assert set(where_opens_land(path, 24)) == {first, second}  # each of 24 tries: 1 in 2


@pytest.mark.timeout(180)
def test_a_lost_connection_moves_to_the_next_host_at_once_then_back_to_the_first(broker, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="spoolq.shippers")
    first, second = f"127.0.0.1:{broker.stomp_port}", f"127.0.0.1:{broker.second_stomp_port}"
    node_b = unique("b")
    hosts = [first, second]
    sender = write_node_config(tmp_path / "a", unique("a"), broker, hosts=hosts, broker_extra=IN_ORDER)
    receiver = write_node_config(tmp_path / "b", node_b, broker)
    outgoing, md = root_of(sender).spool("outgoing"), root_of(receiver).spool("md")
    landed = []
    with running(sender, "out") as (outbound,), running(receiver, "in"):
        for n in range(3):
            outgoing.put_many(Message.new("x", f"{n}-{i}", to=f"md@{node_b}") for i in range(50))
            wait_until(lambda n=n: md.count() == 50 * (n + 1), 60, f"batch {n} delivered")
            wait_until(lambda n=n: outbound.status.reconnects == n and outbound.status.state == "connected")
            landed.append(outbound.status.broker)
            if n < 2:
                broker.close_all_connections()
    assert landed == [first, second, first]  # the lost host last; the next loss: the first again
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("shipper out:")]
    assert sum("; trying the next host now" in line for line in said) == 2
    assert not [line for line in said if "; retrying in" in line]  # no wait before the other host
