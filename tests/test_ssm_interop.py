"""spoolq and the real APEL SSM 4.0.0 through RabbitMQ, both ways, signed and signed-then-encrypted.

The SSM is the unmodified one of ``../shared/peers/apel-ssm`` (from the
repository's root), installed once per test session into its own virtual
environment from the package index (``stomp.py==4.1.24`` and the rest, as
its README asks).  Where that folder is absent the tests are skipped.  Every
certificate is a grid host certificate (no ``emailProtection``) from one CA,
trusted through a hashed CA directory.  Each run counts what was lost and
what was doubled and compares every body byte for byte with what the
sending application wrote.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from dirq.QueueSimple import QueueSimple

from spoolq.spool.parking import iter_parked
from spoolq.testbed.pki import TestCA
from spoolq.testbed.shipping import root_of, running, unique, write_node_config
from tests.ssm_peer import (
    BIG,
    ORDINARY,
    QSCHEMA,
    REJECT_SCHEMA,
    UTF8,
    count_lost_and_doubled,
    read_store,
    ssm_config,
    ssmsend,
    start_ssmreceive,
    stop,
    stored,
)
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("grid-pki")
    ca = TestCA(directory / "ca")
    hosts = {
        name: ca.issue(f"{name}.example", rsa_key=True, grid_host=True)
        for name in ("ssm-sender", "spoolq-receiver", "spoolq-sender", "ssm-receiver", "rogue")
    }
    return hosts, ca.ca_directory(directory / "certificates")


def spoolq_node(tmp_path: Path, broker, queue: str, *, ship="", receive="", security="") -> Path:
    """A spoolq node whose destination is the SSM queue itself (no ``{node}``)."""
    config = write_node_config(tmp_path, unique("spoolq"), broker, ship_extra=ship, receive_extra=receive)
    text = config.read_text().replace('address = "/queue/spoolq-test.{node}"', f'address = "{queue}"')
    config.write_text(text + security)
    return config


def security_table(shipper: str, cred, ca_dir, allow: Path | None = None) -> str:
    lines = [f"[shippers.{shipper}.security]", f'cert = "{cred.cert}"', f'key = "{cred.key}"']
    lines.append(f'ca_path = "{ca_dir}"')
    if allow is not None:
        lines.append(f'allow_list = "{allow}"')
    return "\n".join(lines) + "\n"


# -- real ssmsend -> broker -> spoolq receive ------------------------------------------------


@pytest.mark.timeout(600)  # the first one builds SSM's virtual environment
@pytest.mark.parametrize(
    "encrypt, into_ssm_store",
    [(False, False), (True, False), (False, True)],
    ids=["signed", "signed+encrypted", "signed into SSM's stores"],
)
def test_real_ssmsend_to_spoolq_receive(ssm, pki, broker, tmp_path, encrypt, into_ssm_store):
    hosts, ca_dir = pki
    queue = f"/queue/ssm-interop.{unique('a')}"
    allow = tmp_path / "allowed_dns"
    allow.write_text(hosts["ssm-sender"].dn + "\n")
    ssm_store = tmp_path / "apel"
    receiver = spoolq_node(
        tmp_path / "spoolq",
        broker,
        queue,
        receive="verify = true\n" + (f'ssm_store = "{ssm_store}"\n' if into_ssm_store else ""),
        security=security_table("in", hosts["spoolq-receiver"], ca_dir, allow),
    )
    server_cert = {"server_cert": str(hosts["spoolq-receiver"].cert)} if encrypt else {}

    def send(name: str, cred, bodies: list[bytes], path_type: str) -> list[str]:
        store = tmp_path / f"out-{name}"
        names = []
        if path_type == "dirq":
            outgoing = QueueSimple(str(store))
            names = [outgoing.add(body) for body in bodies]
        else:  # SSM's plain directory: one file a message, read as text (so UTF-8 gets through)
            store.mkdir()
            for n, body in enumerate(bodies):
                (store / f"{n:05d}").write_bytes(body)
        config = ssm_config(
            tmp_path / f"{name}.cfg", "sender", broker, queue, cred, ca_dir, store,
            messaging={"path_type": path_type}, certificates=server_cert,
        )  # fmt: skip
        ssmsend(ssm, config)
        return names

    good = [*ORDINARY, BIG]
    names = send("good", hosts["ssm-sender"], good, "dirq")
    send("utf8", hosts["ssm-sender"], UTF8, "directory")  # ssmsend decodes a dirq's bytes as ASCII
    send("rogue", hosts["rogue"], ORDINARY[:5], "dirq")
    if into_ssm_store:
        check_ssm_stores(receiver, ssm_store, good, names, hosts)
        return
    root = root_of(receiver)
    incoming = root.spool("incoming")
    expected = len(good) + len(UTF8)
    with running(receiver, "in"):
        arrived = lambda: incoming.count() + root.parked("incoming").count()  # noqa: E731
        wait_until(lambda: arrived() >= expected + 5, timeout=120, what="every message")
        time.sleep(0.5)  # anything doubled arrives now
    messages = [incoming.get(name) for name in incoming.names()]
    got = [m.body if isinstance(m.body, bytes) else m.body.encode() for m in messages]
    assert count_lost_and_doubled([*good, *UTF8], got) == (0, 0)
    assert {m.header["signer-dn"] for m in messages} == {hosts["ssm-sender"].dn}
    assert all(m.header.get("empa-id") for m in messages)
    parked = list(iter_parked(root, "incoming"))
    assert len(parked) == 5
    assert all(f"signer {hosts['rogue'].dn} is not in the allow-list" in p.reason for p in parked)


def check_ssm_stores(receiver: Path, ssm_store: Path, good: list[bytes], names: list[str], hosts) -> None:
    """``spoolq receive`` with ``ssm_store``: what APEL's loader reads, as ``ssmreceive`` would write it."""
    incoming, reject = ssm_store / "incoming", ssm_store / "reject"
    with running(receiver, "in"):
        wait_until(
            lambda: stored(incoming, reject) >= len(good) + len(UTF8) + 5, timeout=120, what="all stored"
        )
        time.sleep(0.5)  # anything doubled arrives now
    accepted = read_store(incoming, QSCHEMA)
    got = [item["body"].encode("utf-8") for item in accepted]
    assert count_lost_and_doubled([*good, *UTF8], got) == (0, 0)  # exact: no header, LF kept
    assert {item["signer"] for item in accepted} == {hosts["ssm-sender"].dn}
    assert set(names) <= {item["empaid"] for item in accepted}  # ssmsend's element names
    rejected = read_store(reject, REJECT_SCHEMA)
    assert len(rejected) == 5
    assert {item["signer"] for item in rejected} == {hosts["rogue"].dn}
    assert all("is not in the allow-list" in item["error"] for item in rejected)
    assert {item["body"] for item in rejected} == {body.decode() for body in ORDINARY[:5]}
    assert root_of(receiver).spool("incoming").count() == 0


# -- spoolq ship -> broker -> real ssmreceive ------------------------------------------------


@pytest.mark.timeout(600)  # the first one builds SSM's virtual environment
@pytest.mark.parametrize("encrypt", [False, True], ids=["signed", "signed+encrypted"])
def test_spoolq_ship_to_real_ssmreceive(ssm, pki, broker, tmp_path, encrypt):
    hosts, ca_dir = pki
    queue = f"/queue/ssm-interop.{unique('b')}"
    store = tmp_path / "ssm-store"
    pidfile = tmp_path / "ssmreceive.pid"
    daemon = {"daemon": {"pidfile": str(pidfile)}}
    receiver_cred = hosts["ssm-receiver"]
    config = ssm_config(
        tmp_path / "receiver.cfg", "receiver", broker, queue, receiver_cred, ca_dir, store, **daemon
    )
    dns = tmp_path / "dns"
    dns.write_text(f"# who may send\n{hosts['spoolq-sender'].dn}\n")
    encrypt_to = f'encrypt_to = "{hosts["ssm-receiver"].cert}"\n' if encrypt else ""

    def ship(name: str, cred, bodies: list[bytes]) -> list[str]:
        security = security_table("out", cred, ca_dir)
        node = spoolq_node(
            tmp_path / name, broker, queue, ship="sign = true\n" + encrypt_to, security=security
        )
        outgoing = root_of(node).spool("outgoing")
        # Written as APEL's clients write SSM's outgoing store: dirq's own QueueSimple.
        store = QueueSimple(str(outgoing.path))
        names = [store.add(body) for body in bodies]
        with running(node, "out"):
            wait_until(lambda: outgoing.count() == 0, timeout=120, what=f"{name} shipped")
        return names

    good = [*ORDINARY, BIG, *UTF8]
    pid = start_ssmreceive(ssm, config, dns, pidfile)
    try:
        names = ship("good", hosts["spoolq-sender"], good)
        ship("rogue", hosts["rogue"], ORDINARY[:5])
        incoming, reject = store / "incoming", store / "reject"
        wait_until(
            lambda: stored(incoming, reject) >= len(good) + 5,
            timeout=120,
            what="everything in SSM's stores",
        )
        time.sleep(1)  # anything doubled arrives now
    finally:
        stop(pid)
    accepted = read_store(incoming, QSCHEMA)
    rejected = read_store(reject, REJECT_SCHEMA)
    # SSM strips the trailing line ends of what it verified: the one change it makes to these bodies.
    got = [item["body"].encode("utf-8") for item in accepted]
    assert count_lost_and_doubled([body.rstrip(b"\n") for body in good], got) == (0, 0)
    assert {item["signer"] for item in accepted} == {hosts["spoolq-sender"].dn}
    assert sorted(item["empaid"] for item in accepted) == sorted(names)  # the outgoing store's element names
    assert len(rejected) == 5
    assert {item["error"] for item in rejected} == {f"Signer not in valid DNs list: {hosts['rogue'].dn}"}
