"""TLS to the broker with a directory of CA certificates (``ca_path``), as grid sites keep them."""

from __future__ import annotations

import datetime
import os
import shutil
import stat
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from spoolq.errors import ConfigError
from spoolq.message import Message
from spoolq.shippers import build_shipper
from spoolq.shippers.config import load_shipping
from spoolq.shippers.security.ca_directory import NoCACertificates, ca_certificates, write_bundle
from spoolq.testbed.pki import TestCA
from spoolq.testbed.shipping import root_of, running, unique, write_node_config
from tests.brokers import EACH_BROKER
from tests.waiting import wait_until


def grid_directory(path, ca: TestCA):
    """A CA directory laid out like /etc/grid-security/certificates, with the clutter it holds."""
    path.mkdir()
    shutil.copy(ca.cert_file, path / "spoolq-test.pem")
    os.symlink("spoolq-test.pem", path / "1a2b3c4d.0")  # the hash link: the same CA again
    (path / "spoolq-test.signing_policy").write_text(
        "access_id_CA X509 '/C=CH/O=spoolq test/CN=spoolq test CA'\n"
    )
    (path / "spoolq-test.namespaces").write_text('TO Issuer "/C=CH/O=spoolq test/CN=spoolq test CA"\n')
    (path / "1a2b3c4d.r0").write_bytes(crl_of(ca))
    shutil.copy(ca.directory / "ca.key", path / "stray.key")  # must never reach the bundle
    os.symlink("missing.pem", path / "dangling.0")
    (path / "subdirectory").mkdir()
    return path


def crl_of(ca: TestCA) -> bytes:
    now = datetime.datetime.now(datetime.UTC)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(now)
        .next_update(now + datetime.timedelta(days=1))
        .sign(ca.key, hashes.SHA256())
    )
    return crl.public_bytes(serialization.Encoding.PEM)


def tls_lines(broker, client, trust: str) -> str:
    return f'use_tls = true\n{trust}\ncert_file = "{client.cert}"\nkey_file = "{client.key}"\n'


# -- the bundle, without a broker ---------------------------------------------------------


def test_bundle_holds_each_certificate_once_and_nothing_else(tmp_path):
    ca = TestCA(tmp_path / "pki")
    directory = grid_directory(tmp_path / "certificates", ca)
    bundle = tmp_path / "state" / "bundle.pem"
    assert write_bundle(str(directory), str(bundle)) == 1
    text = bundle.read_text()
    assert text.count("BEGIN CERTIFICATE") == 1
    assert "PRIVATE KEY" not in text and "X509 CRL" not in text
    assert x509.load_pem_x509_certificate(text.encode()) == ca.cert
    assert stat.S_IMODE(os.stat(bundle).st_mode) == 0o600
    assert [n for n in os.listdir(bundle.parent) if n != "bundle.pem"] == []  # no temporary left


def test_bundle_is_replaced_when_the_directory_changes(tmp_path):
    first, second = TestCA(tmp_path / "one", "first CA"), TestCA(tmp_path / "two", "second CA")
    directory = grid_directory(tmp_path / "certificates", first)
    bundle = tmp_path / "bundle.pem"
    write_bundle(str(directory), str(bundle))
    shutil.copy(second.cert_file, directory / "second.pem")
    assert write_bundle(str(directory), str(bundle)) == 2
    assert bundle.read_text().count("BEGIN CERTIFICATE") == 2


def test_a_directory_without_a_ca_is_refused_and_the_old_bundle_kept(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "x.signing_policy").write_text("nothing\n")
    bundle = tmp_path / "bundle.pem"
    bundle.write_text("old")
    with pytest.raises(NoCACertificates, match="no CA certificate"):
        write_bundle(str(tmp_path / "empty"), str(bundle))
    with pytest.raises(NoCACertificates, match="cannot list"):
        ca_certificates(str(tmp_path / "absent"))
    assert bundle.read_text() == "old"


# -- configuration ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "trust, message",
    [
        ("", "brokers.main.ca_file: give exactly one of ca_file and ca_path"),
        ('ca_file = "ca.pem"\nca_path = "certificates"', "brokers.main.ca_file: give exactly one"),
        ('ca_path = "empty"', "brokers.main.ca_path: .*empty: no CA certificate in it"),
    ],
)
def test_tls_needs_exactly_one_source_of_trust(broker, tmp_path, trust, message):
    (tmp_path / "empty").mkdir()
    config = write_node_config(tmp_path, "a", broker, broker_extra=f"use_tls = true\n{trust}\n")
    with pytest.raises(ConfigError, match=message) as caught:
        load_shipping(str(config))
    assert str(config) in str(caught.value)


# -- against the broker's TLS listener ----------------------------------------------------


@EACH_BROKER
def test_messages_travel_over_tls_trusting_a_ca_directory(broker, tmp_path):
    directory = grid_directory(tmp_path / "certificates", broker.ca)
    tls = tls_lines(broker, broker.ca.issue("client.example"), f'ca_path = "{directory}"')
    hosts = [f"127.0.0.1:{broker.stomps_port}"]
    node_b = unique("b")
    sender = write_node_config(tmp_path / "a", unique("a"), broker, hosts=hosts, broker_extra=tls)
    receiver = write_node_config(tmp_path / "b", node_b, broker, hosts=hosts, broker_extra=tls)
    root_of(sender).spool("outgoing").put_many(Message.new("x", str(n), to=f"md@{node_b}") for n in range(10))
    with running(sender, "out") as (shipper,), running(receiver, "in"):
        wait_until(lambda: root_of(receiver).spool("md").count() == 10, what="10 over TLS with ca_path")
    assert shipper.status.done == 10
    bundle = root_of(sender).path + "/.shippers/out.ca-bundle.pem"
    assert stat.S_IMODE(os.stat(bundle).st_mode) == 0o600


@EACH_BROKER
def test_a_directory_of_an_unrelated_ca_fails_to_connect_with_a_clear_error(broker, tmp_path):
    directory = grid_directory(tmp_path / "certificates", TestCA(tmp_path / "other", "unrelated CA"))
    tls = tls_lines(broker, broker.ca.issue("client.example"), f'ca_path = "{directory}"')
    hosts = [f"127.0.0.1:{broker.stomps_port}"]
    sender = write_node_config(tmp_path / "a", unique("a"), broker, hosts=hosts, broker_extra=tls)
    root_of(sender).spool("outgoing").put(Message.new("x", "waits", to="md@elsewhere"))
    with running(sender, "out") as (shipper,):
        wait_until(lambda: "not trusted" in shipper.status.last_error, what="a TLS error")
        assert shipper.status.state == "disconnected"
    error = shipper.status.last_error
    assert f"ca_path {directory}" in error and "certificate" in error, error
    assert root_of(sender).spool("outgoing").count() == 1  # waits on disk


def test_a_ca_directory_emptied_after_start_is_a_clear_connect_error(broker, tmp_path):
    directory = grid_directory(tmp_path / "certificates", broker.ca)
    tls = tls_lines(broker, broker.ca.issue("client.example"), f'ca_path = "{directory}"')
    hosts = [f"127.0.0.1:{broker.stomps_port}"]
    sender = write_node_config(tmp_path / "a", unique("a"), broker, hosts=hosts, broker_extra=tls)
    shipper = build_shipper(root_of(sender), load_shipping(str(sender)), "out")  # valid when loaded
    for name in ("spoolq-test.pem", "1a2b3c4d.0"):
        os.unlink(directory / name)
    thread = threading.Thread(target=shipper.run)
    thread.start()
    try:
        wait_until(lambda: "no CA certificate" in shipper.status.last_error, what="the ca_path error")
    finally:
        shipper.stop()
        thread.join(30)
    assert f"ca_path {directory}" in shipper.status.last_error
