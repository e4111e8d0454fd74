"""APEL SSM's S/MIME wire format, both ways, checked with the openssl commands SSM itself runs.

SSM signs with ``openssl smime -sign -text`` (then reads the output with
Python's universal newlines, so the wire has LF line ends), and verifies with
``openssl verify -CApath`` on the signer's certificate then ``openssl smime
-verify -noverify``, splitting the content at its first blank line.
"""

from __future__ import annotations

import base64
import subprocess

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spoolq.errors import SecurityError
from spoolq.message import Message
from spoolq.shippers.config import SecurityConfig
from spoolq.shippers.security import smime
from spoolq.shippers.security.seal import Opener, Sealer
from spoolq.testbed.pki import TestCA
from spoolq.testbed.shipping import publish, root_of, running, unique, write_node_config
from tests.waiting import wait_until

BODIES = [
    b"APEL-summary-job-message: v0.3\nSite: RAL-LCG2\nMonth: 3\n%%\n",
    b"",
    b"no newline at the end",
    b"\n\nblank lines first and last\n\n",
    "UTF-8: Zürich, Ελλάδα, 東京, \u2028 and \u0085\n".encode(),
    b"CRLF line ends\r\nkept\r\n",
    b"a lone CR\r in the middle\r",
    b"trailing spaces   \n\ttab\t\n",
    b"=3D and = and =\n",
    bytes(range(256)),
    b"MIME-Version: 1.0\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\n\n",
]


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pki")
    ca = TestCA(directory / "ca")
    host = ca.issue("host1.example", grid_host=True)
    rogue = ca.issue("rogue.example", grid_host=True)
    server = ca.issue("server.example", rsa_key=True, grid_host=True)
    revoked = ca.issue("revoked.example", grid_host=True)
    ca_dir = ca.ca_directory(directory / "certificates", revoked=(revoked,))
    return ca, host, rogue, server, revoked, ca_dir


def sealer(cred, encrypt_to=None) -> Sealer:
    security = SecurityConfig(cert=str(cred.cert), key=str(cred.key))
    return Sealer(security, sign=True, encrypt_to=str(encrypt_to.cert) if encrypt_to else None)


def opener(pki, *, allow=None, check_crls=False, tmp_path=None) -> Opener:
    _ca, _host, _rogue, server, _revoked, ca_dir = pki
    allow_list = None
    if allow is not None:
        allow_list = tmp_path / "allowed_dns"
        allow_list.write_text("".join(f"{dn}\n" for dn in allow))
    security = SecurityConfig(
        cert=str(server.cert),
        key=str(server.key),
        ca_path=str(ca_dir),
        check_crls=check_crls,
        allow_list=str(allow_list) if allow_list else None,
    )
    return Opener(security)


def openssl(arguments: list[str], data: bytes) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *arguments], input=data, capture_output=True, timeout=30)


def ssm_sign(body: bytes, cred) -> bytes:
    """What SSM's sender sends: ``openssl smime -sign -text``, line ends read back as LF."""
    done = openssl(["smime", "-sign", "-inkey", str(cred.key), "-signer", str(cred.cert), "-text"], body)
    assert done.returncode == 0, done.stderr
    return done.stdout.replace(b"\r\n", b"\n")


def ssm_verify(signed: bytes, ca_dir) -> str:
    """SSM's receiving checks, in the openssl commands it runs; returns its view of the content."""
    pk7 = openssl(["smime", "-pk7out"], signed + b"\n\n")
    certs = openssl(["pkcs7", "-print_certs"], pk7.stdout).stdout
    chain = openssl(["verify", "-CApath", str(ca_dir)], certs)
    assert b"OK" in chain.stdout and b"error" not in chain.stdout, chain.stdout + chain.stderr
    done = openssl(["smime", "-verify", "-CApath", str(ca_dir), "-noverify"], signed + b"\n\n")
    assert b"Verification successful" in done.stderr, done.stderr
    lines = done.stdout.decode("utf-8").replace("\r\n", "\n").strip().splitlines()
    assert "" in lines, "No blank line between message header and body"
    return "\n".join(lines[lines.index("") + 1 :])


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
@pytest.mark.parametrize("encrypt", [False, True], ids=["signed", "signed+encrypted"])
def test_spoolq_to_spoolq_through_the_ssm_form_is_exact(pki, body, encrypt):
    _ca, host, _rogue, server, _revoked, _ca_dir = pki
    sealed = sealer(host, server if encrypt else None).seal(body)
    assert b"multipart/signed" in (sealed if not encrypt else smime.decrypt(sealed, *server_keys(pki)))
    assert opener(pki).open(sealed) == (body, host.dn)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.binary(max_size=3000) | st.text(max_size=2000).map(lambda t: t.encode("utf-8", "surrogatepass"))
)
def test_any_body_round_trips_exactly(pki, body):
    _ca, host, *_ = pki
    assert opener(pki).open(sealer(host).seal(body)) == (body, host.dn)


def server_keys(pki):
    server = pki[3]
    return smime.load_certificate(str(server.cert)), smime.load_key(str(server.key))


def test_signed_content_is_the_text_entity_ssm_splits(pki):
    """SSM takes the content up to its first blank line for a MIME header."""
    _ca, host, *_ = pki
    signed = sealer(host).seal(b"APEL-summary-job-message: v0.3\n%%\n")
    assert signed.startswith(b"MIME-Version: 1.0\r\nContent-Type: multipart/signed;")
    content = openssl(["smime", "-verify", "-noverify"], signed).stdout
    assert content == b"Content-Type: text/plain\r\n\r\nAPEL-summary-job-message: v0.3\r\n%%\r\n"


TEXT_BODIES = [BODIES[0], *BODIES[2:4], "UTF-8: Zürich, Ελλάδα, 東京\n".encode()]


@pytest.mark.parametrize("body", TEXT_BODIES, ids=range(len(TEXT_BODIES)))
def test_ssm_reads_what_spoolq_signs(pki, body):
    _ca, host, _rogue, _server, _revoked, ca_dir = pki
    seen = ssm_verify(sealer(host).seal(body), ca_dir)
    # SSM strips the content's trailing line ends: the one difference it makes here.
    assert seen.encode("utf-8") == body.rstrip(b"\n")


def test_ssm_reads_a_cr_body_exactly_through_quoted_printable(pki):
    import quopri

    _ca, host, _rogue, _server, _revoked, ca_dir = pki
    body = b"CRLF line ends\r\nkept\r\n"
    seen = ssm_verify(sealer(host).seal(body), ca_dir)
    assert quopri.decodestring(seen) == body  # as SSM decodes a quoted-printable entity


@pytest.mark.parametrize("body", TEXT_BODIES, ids=range(len(TEXT_BODIES)))
@pytest.mark.parametrize("encrypt", [False, True], ids=["signed", "signed+encrypted"])
def test_what_ssm_signs_is_read_exactly(pki, body, encrypt):
    """A grid host certificate (no emailProtection) signing as SSM does: accepted, body exact."""
    _ca, host, _rogue, server, _revoked, _ca_dir = pki
    signed = ssm_sign(body, host)
    if encrypt:
        done = openssl(["smime", "-encrypt", "-aes128", str(server.cert)], signed)
        signed = done.stdout.replace(b"\r\n", b"\n")
    assert opener(pki).open(signed) == (body, host.dn)


def test_a_dn_outside_the_allow_list_is_refused_for_its_dn(pki, tmp_path):
    _ca, host, rogue, *_ = pki
    with pytest.raises(SecurityError, match="not in the allow-list"):
        opener(pki, allow=[host.dn], tmp_path=tmp_path).open(ssm_sign(b"x\n", rogue))
    assert opener(pki, allow=[host.dn], tmp_path=tmp_path).open(ssm_sign(b"x\n", host))[1] == host.dn


def test_a_signer_from_another_ca_is_refused(pki, tmp_path):
    stranger = TestCA(tmp_path / "other", name="spoolq test CA").issue("host1.example", grid_host=True)
    with pytest.raises(SecurityError, match="certificate verification failed"):
        opener(pki).open(ssm_sign(b"x\n", stranger))


def test_a_revoked_signer_is_refused_when_crls_are_checked(pki):
    revoked = pki[4]
    assert opener(pki).open(ssm_sign(b"x\n", revoked))[1] == revoked.dn
    with pytest.raises(SecurityError, match="certificate revoked"):
        opener(pki, check_crls=True).open(ssm_sign(b"x\n", revoked))
    assert opener(pki, check_crls=True).open(ssm_sign(b"x\n", pki[1]))[1] == pki[1].dn


def test_a_tampered_body_is_refused(pki):
    signed = ssm_sign(b"Site: A\n", pki[1])
    with pytest.raises(SecurityError, match="signature verification failed"):
        opener(pki).open(signed.replace(b"Site: A", b"Site: B"))


def test_signed_content_without_the_text_header_is_refused_clearly(pki):
    host = pki[1]
    done = openssl(["smime", "-sign", "-inkey", str(host.key), "-signer", str(host.cert)], b"no header\n")
    with pytest.raises(SecurityError, match="no MIME text header"):
        opener(pki).open(done.stdout)


def test_the_opaque_form_of_older_releases_is_still_read(pki):
    host = pki[1]
    cert, key = smime.load_certificate(str(host.cert)), smime.load_key(str(host.key))
    der = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(b"raw\r\nbytes\n")
        .add_signer(cert, key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )
    opaque = (
        b"MIME-Version: 1.0\r\n"
        b'Content-Disposition: attachment; filename="smime.p7m"\r\n'
        b'Content-Type: application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(der).replace(b"\n", b"\r\n")
    )
    assert opener(pki).open(opaque) == (b"raw\r\nbytes\n", host.dn)


def test_empa_id_is_sent_and_recorded(broker, tmp_path, pki):
    """SSM's sender labels each message with its element name; the receiver keeps it in the header."""
    _ca, host, _rogue, server, _revoked, ca_dir = pki
    node_b = unique("b")
    sender = write_node_config(tmp_path / "a", unique("a"), broker, ship_extra="sign = true\n")
    with open(sender, "a") as handle:
        handle.write(f'[shippers.out.security]\ncert = "{host.cert}"\nkey = "{host.key}"\n')
    receiver = write_node_config(tmp_path / "b", node_b, broker, receive_extra="verify = true\n")
    with open(receiver, "a") as handle:
        handle.write(
            f'[shippers.in.security]\ncert = "{server.cert}"\nkey = "{server.key}"\nca_path = "{ca_dir}"\n'
        )
    outgoing = root_of(sender).spool("outgoing")
    names = {outgoing.put(Message.new("x", str(n), to=f"md@{node_b}")) for n in range(3)}
    md = root_of(receiver).spool("md")
    with running(sender, "out"), running(receiver, "in"):
        wait_until(lambda: md.count() == 3, what="3 messages")
    assert {md.get(name).header.get("empa-id") for name in md.names()} == names
    assert {md.get(name).header.get("signer-dn") for name in md.names()} == {host.dn}


def test_a_foreign_frames_empa_id_is_recorded(broker, tmp_path):
    """A frame from SSM (no spoolq-id) keeps its empa-id; an unprintable one is left out, the body kept."""
    node_b = unique("b")
    receiver = write_node_config(tmp_path / "b", node_b, broker)
    frames = [
        (b"APEL-summary-job-message: v0.3\n%%\n", {"empa-id": "6b161884/6b1618a5af416d"}),
        (b"second\n", {"empa-id": "x\x01y"}),
    ]
    publish(broker, f"/queue/spoolq-test.{node_b}", frames)
    incoming = root_of(receiver).spool("incoming")
    with running(receiver, "in"):
        wait_until(lambda: incoming.count() == 2, what="2 messages")
    got = {incoming.get(name).body: incoming.get(name).header.get("empa-id") for name in incoming.names()}
    assert got == {"APEL-summary-job-message: v0.3\n%%\n": "6b161884/6b1618a5af416d", "second\n": None}
