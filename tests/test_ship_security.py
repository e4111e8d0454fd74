"""Signed and encrypted messages through the broker; bad ones parked; TLS; size limit."""

from __future__ import annotations

import pytest

from spoolq.message import Message
from spoolq.spool.parking import iter_parked
from spoolq.testbed.pki import TestCA
from spoolq.testbed.shipping import root_of, running, unique, write_node_config
from tests.brokers import EACH_BROKER
from tests.waiting import wait_until


@pytest.fixture
def pki(tmp_path):
    ca = TestCA(tmp_path / "pki")
    return ca, ca.issue("node1.example"), ca.issue("node2.example", rsa_key=True)


def security_table(shipper, cred, ca_file, allow=None, deny=None) -> str:
    lines = [
        f"[shippers.{shipper}.security]",
        f'cert = "{cred.cert}"',
        f'key = "{cred.key}"',
        f'ca_file = "{ca_file}"',
    ]
    if allow:
        lines.append(f'allow_list = "{allow}"')
    if deny:
        lines.append(f'deny_list = "{deny}"')
    return "\n".join(lines) + "\n"


def pair(tmp_path, broker, pki, *, signer_ca=None, allow_dns=None, deny_dns=(), encrypt=False):
    """A signing sender and a verifying receiver; returns (sender config, receiver config, node)."""
    ca, cred1, cred2 = pki
    signer_cred = signer_ca.issue("node1.example") if signer_ca else cred1
    node_b = unique("b")
    ship_extra = "sign = true\n" + (f'encrypt_to = "{cred2.cert}"\n' if encrypt else "")
    sender = write_node_config(tmp_path / "a", unique("a"), broker, ship_extra=ship_extra)
    with open(sender, "a") as handle:
        handle.write(security_table("out", signer_cred, ca.cert_file))
    allow = tmp_path / "allowed_dns"
    allow.write_text("# who may send\n" + "".join(f"{dn}\n" for dn in (allow_dns or [cred1.dn])))
    deny = tmp_path / "denied_dns"
    deny.write_text("".join(f"{dn}\n" for dn in deny_dns))
    receiver = write_node_config(tmp_path / "b", node_b, broker, receive_extra="verify = true\n")
    with open(receiver, "a") as handle:
        handle.write(security_table("in", cred2, ca.cert_file, allow, deny))
    return sender, receiver, node_b


def deliver_one(sender, receiver, node_b, body="hello"):
    message = Message.new("x", body, to=f"md@{node_b}")
    root_of(sender).spool("outgoing").put(message)
    root = root_of(receiver)
    with running(sender, "out"), running(receiver, "in"):
        wait_until(lambda: root.spool("md").count() + root.parked("incoming").count() == 1, what="arrival")
    return message, root


@EACH_BROKER
@pytest.mark.parametrize("encrypt", [False, True], ids=["signed", "signed+encrypted"])
def test_signed_message_is_accepted_with_the_signer_dn(broker, tmp_path, pki, encrypt):
    sender, receiver, node_b = pair(tmp_path, broker, pki, encrypt=encrypt)
    message, root = deliver_one(sender, receiver, node_b)
    md = root.spool("md")
    [name] = md.names()
    got = md.get(name)
    assert got.message_id == message.message_id and got.body == "hello"
    assert got.header["signer-dn"] == pki[1].dn


def parked_reason(root) -> str:
    [parked] = iter_parked(root, "incoming")
    assert root.spool("md").count() == 0
    return parked.reason


@EACH_BROKER
def test_signature_from_an_unknown_ca_is_parked(broker, tmp_path, pki):
    rogue = TestCA(tmp_path / "rogue", name="rogue CA")
    sender, receiver, node_b = pair(tmp_path, broker, pki, signer_ca=rogue)
    _, root = deliver_one(sender, receiver, node_b)
    assert "verification failed" in parked_reason(root)


@EACH_BROKER
def test_unknown_dn_is_parked(broker, tmp_path, pki):
    sender, receiver, node_b = pair(tmp_path, broker, pki, allow_dns=["/C=CH/O=spoolq test/CN=someone.else"])
    _, root = deliver_one(sender, receiver, node_b)
    assert "not in the allow-list" in parked_reason(root)


@EACH_BROKER
def test_denied_dn_is_parked(broker, tmp_path, pki):
    sender, receiver, node_b = pair(tmp_path, broker, pki, deny_dns=[pki[1].dn])
    _, root = deliver_one(sender, receiver, node_b)
    assert "in the deny-list" in parked_reason(root)


@EACH_BROKER
def test_tampered_signature_is_parked(broker, tmp_path, pki):
    import stomp

    from spoolq.shippers.security import smime

    _, receiver, node_b = pair(tmp_path, broker, pki)
    cred1 = pki[1]
    envelope = b'{"header":{"to":"md@%s"},"body":"x"}' % node_b.encode()
    signed = smime.sign(envelope, smime.load_certificate(str(cred1.cert)), smime.load_key(str(cred1.key)))
    flip = len(signed) - 40
    tampered = signed[:flip] + (b"A" if signed[flip : flip + 1] != b"A" else b"B") + signed[flip + 1 :]
    conn = stomp.Connection12([("127.0.0.1", broker.stomp_port)], auto_decode=False, vhost="/")
    conn.connect("guest", "guest", wait=True)
    conn.send(f"/queue/spoolq-test.{node_b}", tampered, headers={"persistent": "true", "receipt": "r1"})
    conn.disconnect()
    root = root_of(receiver)
    with running(receiver, "in"):
        wait_until(lambda: root.parked("incoming").count() == 1, what="parked")
    assert "verification failed" in parked_reason(root)


@EACH_BROKER
def test_oversized_message_is_refused_at_the_sending_side(broker, tmp_path):
    sender = write_node_config(tmp_path / "a", unique("a"), broker, ship_extra="max_size = 1000\n")
    root = root_of(sender)
    root.spool("outgoing").put(Message.new("big", "x" * 5000, to="md@elsewhere"))
    with running(sender, "out") as (shipper,):
        wait_until(lambda: root.parked("outgoing").count() == 1, what="parked")
    [parked] = iter_parked(root, "outgoing")
    assert "larger than shippers.out.max_size" in parked.reason
    assert shipper.status.done == 0


@EACH_BROKER
def test_tls_with_a_test_ca(broker, tmp_path):
    client = broker.ca.issue("client.example")
    tls = (
        f'use_tls = true\nca_file = "{broker.ca.cert_file}"\n'
        f'cert_file = "{client.cert}"\nkey_file = "{client.key}"\n'
    )
    hosts = [f"127.0.0.1:{broker.stomps_port}"]
    node_b = unique("b")
    sender = write_node_config(tmp_path / "a", unique("a"), broker, hosts=hosts, broker_extra=tls)
    receiver = write_node_config(tmp_path / "b", node_b, broker, hosts=hosts, broker_extra=tls)
    root_of(sender).spool("outgoing").put_many(Message.new("x", str(n), to=f"md@{node_b}") for n in range(10))
    with running(sender, "out"), running(receiver, "in"):
        wait_until(lambda: root_of(receiver).spool("md").count() == 10, what="10 over TLS")
