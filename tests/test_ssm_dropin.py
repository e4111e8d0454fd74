"""spoolq in the place of ``ssmsend`` or ``ssmreceive``, from the SSM site's own files, against the real SSM.

A site keeps its ``sender.cfg``, ``receiver.cfg``, DN file and stores; only
the command changes: ``spoolq ship --ssm-config sender.cfg``, ``spoolq
receive --ssm-config receiver.cfg -d dns``, or the TOML that ``spoolq config
from-ssm`` writes from them.  The other side is the unmodified APEL SSM
(``tests/ssm_peer.py``).  Every run counts what was lost and what was doubled
and compares bodies byte for byte with what the sending application wrote.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from dirq.QueueSimple import QueueSimple

from spoolq.config.ssm import RECEIVER, SENDER, load_ssm_config
from spoolq.config.toml_file import load_toml_config
from spoolq.shippers.config import shipping_of
from spoolq.shippers.outgoing_directory import OutgoingDirectory
from spoolq.spool import SpoolRoot
from spoolq.testbed.daemons import Daemon
from spoolq.testbed.pki import TestCA
from spoolq.testbed.shipping import unique
from tests.conftest import cli_env, run_cli
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

SLOW = b"".join(b"APEL slowly written record %036d\n" % n for n in range(64))  # 4 KiB, in 8 writes


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("grid-pki")
    ca = TestCA(directory / "ca")
    hosts = {name: ca.issue(f"{name}.example", rsa_key=True, grid_host=True) for name in ("site", "central")}
    return hosts, ca.ca_directory(directory / "certificates")


def spoolq_daemon(tmp_path: Path, name: str, *args: str) -> Daemon:
    daemon = Daemon(name, list(args), tmp_path / f"{name}.log", cli_env())
    daemon.start()
    return daemon


def log_of(daemon: Daemon) -> str:
    return daemon.log.read_text(errors="replace")[-4000:]


def write_slowly(path: Path, started: threading.Event) -> None:
    """Write ``SLOW`` in eight pieces over about 4 s, as a slow client does, then close."""
    with open(path, "wb") as handle:
        for n in range(8):
            handle.write(SLOW[n * 512 : (n + 1) * 512])
            handle.flush()
            started.set()
            time.sleep(0.5)


# -- spoolq in the place of ssmsend ----------------------------------------------------------


@pytest.mark.timeout(600)  # the first SSM test of a run builds SSM's virtual environment
@pytest.mark.parametrize(
    "path_type, run_as",
    [("dirq", "ssm-config"), ("directory", "ssm-config"), ("directory", "from-ssm")],
    ids=["dirq store, --ssm-config", "plain directory, --ssm-config", "plain directory, from-ssm TOML"],
)
def test_site_sender_cfg_delivers_to_real_ssmreceive(ssm, pki, broker, tmp_path, path_type, run_as):
    hosts, ca_dir = pki
    queue = f"/queue/ssm-dropin.{unique('s')}"
    # The central side: the real ssmreceive, allowing the site's DN.
    central = tmp_path / "central"
    pidfile = tmp_path / "ssmreceive.pid"
    receiver_cfg = ssm_config(
        tmp_path / "receiver.cfg", "receiver", broker, queue, hosts["central"], ca_dir, central,
        daemon={"pidfile": str(pidfile)},
    )  # fmt: skip
    dns = tmp_path / "dns"
    dns.write_text(f"# who may send\n{hosts['site'].dn}\n")
    # The site: its sender.cfg, as ssmsend reads it, and its outgoing store.
    outgoing = tmp_path / "apel" / "outgoing"
    sender_cfg = ssm_config(
        tmp_path / "sender.cfg", "sender", broker, queue, hosts["site"], ca_dir, outgoing,
        messaging={"path_type": path_type},
    )  # fmt: skip
    bodies = [*ORDINARY, BIG, *UTF8]
    slow_writer = None
    if path_type == "dirq":
        names = [QueueSimple(str(outgoing)).add(body) for body in bodies]
    else:
        outgoing.mkdir(parents=True)
        for n, body in enumerate(bodies):
            (outgoing / f"{n:05d}").write_bytes(body)
        names = None
        # Being written when the shipper starts, and for 4 s after: it must go whole, once.
        started = threading.Event()
        slow_writer = threading.Thread(target=write_slowly, args=(outgoing / "slow", started))
        slow_writer.start()
        started.wait(10)
        bodies.append(SLOW)
    if run_as == "ssm-config":
        args = ["ship", "--ssm-config", str(sender_cfg)]
    else:
        toml = tmp_path / "spoolq.toml"
        converted = run_cli("config", "from-ssm", str(sender_cfg), "-o", str(toml))
        assert converted.returncode == 0, converted.stderr.decode()
        args = ["-c", str(toml), "ship", "--shipper", SENDER]
    # The shipper first, ssmreceive once everything waits on the broker: an ssmreceive that
    # hears nothing for 10 s loses its connection unseen (stomp.py's socket timeout) and
    # only notices at its ping, 10 minutes on (docs/apel-ssm.md).
    shipper = spoolq_daemon(tmp_path, "ship", *args)
    pid = None
    try:
        sending = outgoing.parent / f"{outgoing.name}.sending"
        left = [outgoing] if path_type == "dirq" else [outgoing, sending]
        wait_until(
            lambda: not any(p.is_file() for d in left for p in d.rglob("*")) or shipper.exits() is not None,
            timeout=240,
            what="the store sent",
        )
        assert shipper.exits() is None, log_of(shipper)
        pid = start_ssmreceive(ssm, receiver_cfg, dns, pidfile)
        incoming, reject = central / "incoming", central / "reject"
        wait_until(lambda: stored(incoming, reject) >= len(bodies), timeout=240, what="all in SSM's stores")
        time.sleep(1)  # anything doubled arrives now
    finally:
        if slow_writer is not None:
            slow_writer.join(30)
        code = shipper.stop()
        if pid is not None:
            stop(pid)
    assert code == 0, log_of(shipper)
    accepted = read_store(incoming, QSCHEMA)
    assert read_store(reject, REJECT_SCHEMA) == []
    got = [item["body"].encode("utf-8") for item in accepted]
    # SSM strips the trailing line ends of what it verified: the one change it makes to these bodies.
    assert count_lost_and_doubled([body.rstrip(b"\n") for body in bodies], got) == (0, 0)
    assert {item["signer"] for item in accepted} == {hosts["site"].dn}
    if names is not None:
        assert sorted(item["empaid"] for item in accepted) == sorted(names)  # the store's element names
    assert [p for p in outgoing.rglob("*") if p.is_file()] == []  # every file removed once sent


def test_a_file_still_being_written_when_the_shipper_starts_is_taken_whole(tmp_path):
    """Found by the first listing while its writer still writes: left until it is closed, then moved."""
    spool = SpoolRoot(tmp_path / "root").spool("outgoing.sending")
    directory = tmp_path / "outgoing"
    directory.mkdir()
    pieces = [b"APEL-summary-job-message: v0.3\n", *(b"Site: SITE-%d\n%%%%\n" % n for n in range(8))]
    box = None
    try:
        with open(directory / "slow", "wb") as handle:
            handle.write(pieces[0])
            handle.flush()
            box = OutgoingDirectory(str(directory), spool, "test")
            box.start()
            for piece in pieces[1:]:  # a write every 0.5 s: never quiet for the 2 s a listing asks
                time.sleep(0.5)
                handle.write(piece)
                handle.flush()
            assert spool.count() == 0 and (directory / "slow").exists()
        wait_until(lambda: spool.count() == 1, timeout=30, what="the file, once closed")
    finally:
        if box is not None:
            box.stop()
    assert spool.get(next(iter(spool.names()))).body == b"".join(pieces).decode()
    assert list(directory.iterdir()) == []


def test_a_plain_directory_must_share_the_roots_filesystem(tmp_path, pki, broker):
    """Files are moved into the spool by rename: another filesystem is refused at start, naming both."""
    if not os.path.ismount("/dev/shm") or os.stat("/dev/shm").st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("needs /dev/shm on a filesystem of its own")
    hosts, ca_dir = pki
    outgoing = Path("/dev/shm") / unique("spoolq-outgoing")
    try:
        sender_cfg = ssm_config(
            tmp_path / "sender.cfg", "sender", broker, "/queue/x", hosts["site"], ca_dir, outgoing,
            messaging={"path_type": "directory"},
        )  # fmt: skip
        done = run_cli("--root", str(tmp_path / "root"), "ship", "--ssm-config", str(sender_cfg))
        stderr = done.stderr.decode()
        assert done.returncode == 4, stderr
        assert "is not on the filesystem of the spool" in stderr and str(outgoing) in stderr
    finally:
        if outgoing.exists():
            os.rmdir(outgoing)


# -- spoolq in the place of ssmreceive -------------------------------------------------------


@pytest.mark.timeout(600)
@pytest.mark.parametrize("run_as", ["ssm-config", "from-ssm"])
def test_real_ssmsend_delivers_to_receiver_cfg(ssm, pki, broker, tmp_path, run_as):
    hosts, ca_dir = pki
    queue = f"/queue/ssm-dropin.{unique('r')}"
    central = tmp_path / "apel"
    receiver_cfg = ssm_config(
        tmp_path / "receiver.cfg", "receiver", broker, queue, hosts["central"], ca_dir, central,
        daemon={"pidfile": str(tmp_path / "ssmreceive.pid")},
    )  # fmt: skip
    dns = tmp_path / "dns"
    dns.write_text(f"# who may send\n{hosts['site'].dn}\n")
    if run_as == "ssm-config":
        args = ["receive", "--ssm-config", str(receiver_cfg), "-d", str(dns)]
    else:
        toml = tmp_path / "spoolq.toml"
        converted = run_cli("config", "from-ssm", str(receiver_cfg), "--dns", str(dns), "-o", str(toml))
        assert converted.returncode == 0, converted.stderr.decode()
        args = ["-c", str(toml), "receive", "--shipper", RECEIVER]
    receiver = spoolq_daemon(tmp_path, "receive", *args)
    try:
        status = central / "spoolq" / ".shippers" / f"{RECEIVER}.json"
        wait_until(
            lambda: receiver.exits() is not None or (status.exists() and '"connected"' in status.read_text()),
            timeout=60,
            what="the receiver subscribed",
        )
        assert receiver.exits() is None, log_of(receiver)
        good = [*ORDINARY, BIG]
        outgoing = tmp_path / "site-outgoing"
        names = [QueueSimple(str(outgoing)).add(body) for body in good]
        ssmsend(
            ssm, ssm_config(tmp_path / "sender.cfg", "sender", broker, queue, hosts["site"], ca_dir, outgoing)
        )
        rogue = tmp_path / "rogue-outgoing"
        for body in ORDINARY[:5]:
            QueueSimple(str(rogue)).add(body)
        rogue_cfg = ssm_config(
            tmp_path / "rogue.cfg", "sender", broker, queue, hosts["central"], ca_dir, rogue
        )
        ssmsend(ssm, rogue_cfg)  # signed by a DN the DN file does not hold
        incoming, reject = central / "incoming", central / "reject"
        wait_until(lambda: stored(incoming, reject) >= len(good) + 5, timeout=180, what="everything stored")
        time.sleep(1)  # anything doubled arrives now
    finally:
        code = receiver.stop()
    assert code == 0, log_of(receiver)
    accepted = read_store(incoming, QSCHEMA)
    assert count_lost_and_doubled(good, [item["body"].encode() for item in accepted]) == (0, 0)
    assert {item["signer"] for item in accepted} == {hosts["site"].dn}
    assert {item["empaid"] for item in accepted} == set(names)
    rejected = read_store(reject, REJECT_SCHEMA)
    assert len(rejected) == 5
    assert all(f"signer {hosts['central'].dn} is not in the allow-list" in r["error"] for r in rejected)


# -- the files themselves --------------------------------------------------------------------


def site_files(tmp_path: Path, pki, broker, role: str, **extra) -> Path:
    hosts, ca_dir = pki
    store = tmp_path / "apel" / ("outgoing" if role == "sender" else "")
    return ssm_config(
        tmp_path / f"{role}.cfg", role, broker, "/queue/q", hosts["site"], ca_dir, store, **extra
    )


@pytest.mark.parametrize("role, extra", [("sender", {}), ("receiver", {"daemon": {"pidfile": "/x.pid"}})])
def test_from_ssm_toml_is_the_same_configuration(tmp_path, pki, broker, role, extra):
    """What `ship`/`receive --ssm-config` runs and what the converted TOML runs are equal, key for key."""
    cfg = site_files(tmp_path, pki, broker, role, **extra)
    dns = tmp_path / "dns"
    dns.write_text("/C=UK/O=eScience/CN=site.example\n")
    toml = tmp_path / "spoolq.toml"
    done = run_cli("config", "from-ssm", str(cfg), "--dns", str(dns), "-o", str(toml))
    assert done.returncode == 0, done.stderr.decode()
    name = SENDER if role == "sender" else RECEIVER
    direct = load_ssm_config(str(cfg), name, str(dns))
    converted = load_toml_config(str(toml))
    assert converted.root == direct.root
    direct_shipping, converted_shipping = shipping_of(direct), shipping_of(converted)
    assert converted_shipping.shippers == direct_shipping.shippers
    assert converted_shipping.brokers == direct_shipping.brokers
    assert converted_shipping.destinations == direct_shipping.destinations


@pytest.mark.parametrize(
    "role, section, line, words",
    [
        (
            "sender",
            "sender",
            "protocol: AMS",
            "[sender] protocol: AMS (Argo Messaging Service) is not supported",
        ),
        ("receiver", "receiver", "protocol: AMS", "[receiver] protocol: AMS (Argo Messaging Service)"),
        ("sender", "broker", "bdii: ldap://bdii.example:2170", "[broker] bdii: BDII look-up of brokers"),
        ("sender", "broker", "network: PROD", "[broker] network: BDII look-up of brokers"),
        ("sender", "messaging", "path_type: ams", "[messaging] path_type: must be dirq or directory"),
        ("sender", "messaging", "ttl: 3", "[messaging] ttl: not a key ssmsend reads"),
        (
            "receiver",
            "certificates",
            "server_cert: /c.pem",
            "[certificates] server_cert: not a key ssmreceive",
        ),
        ("sender", "daemon", "pidfile: /x", "[daemon]: not a section of ssmsend's file"),
    ],
)
def test_what_spoolq_does_not_support_is_one_line_naming_it(
    tmp_path, pki, broker, role, section, line, words
):
    cfg = site_files(tmp_path, pki, broker, role)
    text = cfg.read_text()
    key = line.split(":")[0]
    if section in ("sender", "receiver"):  # in place of the protocol line
        text = "".join(ln + "\n" for ln in text.splitlines() if not ln.startswith(f"{key}:"))
    if f"[{section}]" in text:
        text = text.replace(f"[{section}]\n", f"[{section}]\n{line}\n")
    else:
        text += f"[{section}]\n{line}\n"
    cfg.write_text(text)
    dns = tmp_path / "dns"
    dns.write_text("/C=UK/CN=site\n")
    command = "ship" if role == "sender" else "receive"
    extra = ["-d", str(dns)] if role == "receiver" else []
    for args in (
        [command, "--ssm-config", str(cfg), *extra],
        ["config", "from-ssm", str(cfg), "--dns", str(dns)],
    ):
        done = run_cli(*args)
        stderr = done.stderr.decode()
        assert done.returncode == 4, (args, stderr)
        assert stderr.count("\n") == 1 and words in stderr, stderr
        assert str(cfg) in stderr


def test_a_receiver_without_a_valid_dn_refuses_to_start(tmp_path, pki, broker):
    """As ssmreceive does: a DN file with no DN in it would let nobody send."""
    cfg = site_files(tmp_path, pki, broker, "receiver")
    dns = tmp_path / "dns"
    dns.write_text("# nobody yet\nnot a DN\n")
    done = run_cli("receive", "--ssm-config", str(cfg), "-d", str(dns))
    assert done.returncode == 4
    assert f"{dns}: no valid DNs" in done.stderr.decode()
    missing = run_cli("receive", "--ssm-config", str(cfg), "-d", str(tmp_path / "none"))
    assert missing.returncode == 4 and "cannot read the DN file" in missing.stderr.decode()


def test_a_dirq_store_is_not_looked_for_under_another_root(tmp_path, pki, broker):
    """SPOOLQ_ROOT left set would send that root's spool of the store's name: refused, naming both."""
    cfg = site_files(tmp_path, pki, broker, "sender")
    done = run_cli("ship", "--ssm-config", str(cfg), env=cli_env(SPOOLQ_ROOT=str(tmp_path / "other")))
    stderr = done.stderr.decode()
    assert done.returncode == 4, stderr
    assert f"the spool 'outgoing' of the root {tmp_path / 'apel'}" in stderr and "other" in stderr


def test_shipper_or_ssm_config_not_both(tmp_path, pki, broker):
    cfg = site_files(tmp_path, pki, broker, "sender")
    assert run_cli("ship").returncode == 2
    assert run_cli("ship", "--shipper", "x", "--ssm-config", str(cfg)).returncode == 2
