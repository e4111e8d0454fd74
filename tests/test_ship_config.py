"""Shipper configuration, routing and DN lists: validation and behaviour without a broker."""

from __future__ import annotations

import os

import pytest

from spoolq.errors import ConfigError
from spoolq.message import Message
from spoolq.routing import Router, RoutingError
from spoolq.shippers.config import load_shipping
from spoolq.shippers.recent_ids import RecentIds
from spoolq.shippers.security.dnlists import SignerPolicy

GOOD = """
node = "node1"
[brokers.main]
hosts = ["mq1:61613", "mq2:61614"]
username = "u"
passcode_file = "secret"
[destinations.nodes]
broker = "main"
address = "/queue/spoolq.{node}"
[shippers.out]
destination = "nodes"
spool = "outgoing"
window = 50
"""


def write(tmp_path, text: str):
    path = tmp_path / "spoolq.toml"
    path.write_text(text)
    return str(path)


def test_a_full_configuration_loads_with_secret_from_a_file(tmp_path):
    (tmp_path / "secret").write_text("s3cret\n")
    shipping = load_shipping(write(tmp_path, GOOD))
    broker = shipping.brokers["main"]
    assert broker.hosts == (("mq1", 61613), ("mq2", 61614))
    assert broker.passcode == "s3cret"
    assert shipping.shipper("out").window == 50
    assert shipping.destinations["nodes"].ack == "client-individual"


def test_secret_from_an_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("MQ_PASS", "from-env")
    text = GOOD.replace('passcode_file = "secret"', 'passcode_env = "MQ_PASS"')
    assert load_shipping(write(tmp_path, text)).brokers["main"].passcode == "from-env"


@pytest.mark.parametrize(
    "change, key",
    [
        (('"mq1:61613"', '"mq1"'), "brokers.main.hosts"),
        (("window = 50", "window = 0"), "shippers.out.window"),
        (("window = 50", "windw = 5"), "shippers.out.windw"),
        (('broker = "main"', 'broker = "nope"'), "destinations.nodes.broker"),
        (('passcode_file = "secret"', 'passcode_env = "SPOOLQ_UNSET_VARIABLE"'), "brokers.main.passcode_env"),
        (('username = "u"', "use_tls = true"), "brokers.main.ca_file"),
    ],
)
def test_errors_name_the_file_and_the_key(tmp_path, change, key):
    (tmp_path / "secret").write_text("s")
    path = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(ConfigError) as caught:
        load_shipping(path)
    assert path in str(caught.value) and key in str(caught.value)


def test_router_keeps_local_mail_and_sends_the_rest_out():
    router = Router("node1", outgoing="outgoing")
    assert router.route(Message.new("x", to="md@node1")) == "md"
    assert router.route(Message.new("x", to="md@node2")) == "outgoing"
    assert router.route(Message.new("x", to="md")) == "md"
    assert router.route(Message.new("x"), default="inbox") == "inbox"
    with pytest.raises(RoutingError):
        router.deliver_here(Message.new("x", to="md@node2"), "incoming")
    request = Message.new("q", reply_to="client@node2")
    reply = Router.reply_address(request, request.reply("a"))
    assert reply.header["to"] == "client@node2" and router.route(reply) == "outgoing"


def test_dn_lists_reload_on_change_and_fail_closed_when_unreadable(tmp_path):
    allow, deny = tmp_path / "allow", tmp_path / "deny"
    allow.write_text("# comment\n/CN=a\n")
    deny.write_text("")
    policy = SignerPolicy(str(allow), str(deny))
    assert policy.refusal("/CN=a") is None
    assert "not in the allow-list" in policy.refusal("/CN=b")
    deny.write_text("/CN=a\n")
    os.utime(deny, ns=(1, 10**18))  # a new mtime even within the same clock tick
    assert "deny-list" in policy.refusal("/CN=a")
    deny.unlink()
    assert "unreadable" in policy.refusal("/CN=a")  # logged, refused, no exception
    allow.write_text("")
    deny.write_text("")
    os.utime(allow, ns=(1, 2 * 10**18))
    assert "not in the allow-list" in policy.refusal("/CN=a")  # empty allow-list: nobody


def test_recent_ids_survive_a_restart_and_stay_bounded(tmp_path):
    path = str(tmp_path / "state" / "in.ids")
    ids = RecentIds(path, window=100)
    for start in range(0, 500, 50):
        ids.add_many(str(n) for n in range(start, start + 50))
    ids.close()
    again = RecentIds(path, window=100)
    assert "499" in again and "400" in again and "399" not in again
    assert len(again) == 100
    with open(path) as lines:
        assert sum(1 for _ in lines) <= 200
    again.close()
