"""A throw-away public-key infrastructure for tests: one CA, and certificates it signs.

Used for the broker's TLS listener and for S/MIME signing and encryption of
messages.  Everything is made with ``cryptography`` in a temporary directory;
keys are small EC keys so that making them costs milliseconds.
"""

from __future__ import annotations

import datetime
import ipaddress
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Credential:
    """A certificate and its key, both written as PEM files."""

    cert: Path
    key: Path
    dn: str  # OpenSSL's one-line "/C=../O=../CN=.." form, as SSM compares it


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CH"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "spoolq test"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _slash_dn(common_name: str) -> str:
    return f"/C=CH/O=spoolq test/CN={common_name}"


def _write(path: Path, cert: x509.Certificate, key) -> None:
    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    path.with_suffix(".key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


class TestCA:
    """A certificate authority living in ``directory``; ``issue`` makes leaf certificates."""

    __test__ = False  # not a pytest test class

    def __init__(self, directory: Path, name: str = "spoolq test CA"):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        base = self.directory / "ca"
        _write(base, self.cert, self.key)
        self.cert_file = base.with_suffix(".crt")

    def issue(self, common_name: str, *, rsa_key: bool = False, grid_host: bool = False) -> Credential:
        """A certificate for ``common_name`` (also valid as a TLS server for 127.0.0.1).

        ``rsa_key`` makes an RSA key, needed to receive S/MIME encrypted messages.
        ``grid_host`` makes it a grid host certificate: extended key usage
        ``serverAuth, clientAuth`` only, no ``emailProtection`` (so not for
        S/MIME by the book), as IGTF CAs issue them.
        """
        usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
        if not grid_host:
            usages.append(ExtendedKeyUsageOID.EMAIL_PROTECTION)
        key = rsa.generate_private_key(65537, 2048) if rsa_key else ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        san = x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(san, critical=False)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False
            )
            .sign(self.key, hashes.SHA256())
        )
        base = self.directory / common_name.replace(" ", "_")
        _write(base, cert, key)
        return Credential(base.with_suffix(".crt"), base.with_suffix(".key"), _slash_dn(common_name))

    def ca_directory(self, path: Path, revoked: tuple[Credential, ...] = ()) -> Path:
        """A grid-style CA directory (``/etc/grid-security/certificates``): the CA as
        ``NAME.pem`` with its ``HASH.0`` link, and its CRL as ``HASH.r0`` (listing
        ``revoked``), as ``openssl verify -CApath [-crl_check_all]`` looks them up."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        pem = path / "spoolq-test-ca.pem"
        pem.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        subject_hash = _subject_hash(self.cert_file)
        (path / f"{subject_hash}.0").symlink_to(pem.name)
        (path / f"{subject_hash}.r0").write_bytes(self.crl(revoked))
        return path

    def crl(self, revoked: tuple[Credential, ...] = ()) -> bytes:
        """The CA's certificate revocation list (PEM), listing ``revoked``."""
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.cert.subject)
            .last_update(now - datetime.timedelta(minutes=5))
            .next_update(now + datetime.timedelta(days=7))
        )
        for credential in revoked:
            serial = x509.load_pem_x509_certificate(credential.cert.read_bytes()).serial_number
            entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build()
            builder = builder.add_revoked_certificate(entry)
        return builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _subject_hash(cert_file: Path) -> str:
    """OpenSSL's subject hash of a certificate, the name ``-CApath`` looks a CA up by."""
    done = subprocess.run(
        ["openssl", "x509", "-hash", "-noout", "-in", str(cert_file)],
        capture_output=True,
        check=True,
        text=True,
    )
    return done.stdout.strip()
