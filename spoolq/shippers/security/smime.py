"""S/MIME signing and encryption of message bodies, and verification as APEL SSM does it.

``cryptography`` signs, encrypts and decrypts; it does not verify, so
verification runs ``openssl smime -verify`` (input on stdin, no shell), which
also accepts what SSM and ``openssl smime -sign`` produce.  Signatures are
opaque by default (the signed bytes travel inside the signature, untouched
by any line-ending conversion); ``detached=True`` gives SSM's clear-signed
``multipart/signed`` form for text bodies.
"""

from __future__ import annotations

import base64
import os
import subprocess
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from spoolq.errors import SecurityError

OPENSSL_TIMEOUT = 30.0
_OPAQUE_HEADER = (
    b"MIME-Version: 1.0\r\n"
    b'Content-Disposition: attachment; filename="smime.p7m"\r\n'
    b'Content-Type: application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\n"
)
_SMIME_MARKERS = (b"application/pkcs7-mime", b"application/x-pkcs7-mime", b"multipart/signed")


def load_certificate(path: str) -> x509.Certificate:
    try:
        with open(path, "rb") as handle:
            return x509.load_pem_x509_certificate(handle.read())
    except (OSError, ValueError) as exc:
        raise SecurityError(f"{path}: cannot load certificate: {exc}") from None


def load_key(path: str):
    try:
        with open(path, "rb") as handle:
            return serialization.load_pem_private_key(handle.read(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise SecurityError(f"{path}: cannot load private key: {exc}") from None


def sign(data: bytes, cert: x509.Certificate, key, *, detached: bool = False) -> bytes:
    """``data`` signed as S/MIME with ``cert``/``key`` (SHA-256).

    Opaque: the DER signed-data (content inside) in an ``application/pkcs7-mime``
    MIME part, as ``openssl smime -sign -nodetach -binary`` writes it.
    """
    builder = pkcs7.PKCS7SignatureBuilder().set_data(data).add_signer(cert, key, hashes.SHA256())
    if detached:
        return builder.sign(serialization.Encoding.SMIME, [pkcs7.PKCS7Options.DetachedSignature])
    der = builder.sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    return _OPAQUE_HEADER + base64.encodebytes(der).replace(b"\n", b"\r\n")


def encrypt(data: bytes, recipient: x509.Certificate) -> bytes:
    """``data`` encrypted to ``recipient`` (an RSA certificate) as S/MIME enveloped data."""
    builder = pkcs7.PKCS7EnvelopeBuilder().set_data(data).add_recipient(recipient)
    return builder.encrypt(serialization.Encoding.SMIME, [pkcs7.PKCS7Options.Binary])


def is_smime(data: bytes) -> bool:
    head = data[:600].lower()
    return b"mime-version" in head and any(marker in head for marker in _SMIME_MARKERS)


def is_encrypted(data: bytes) -> bool:
    return b"enveloped-data" in data[:600].lower()


def decrypt(data: bytes, cert: x509.Certificate, key) -> bytes:
    try:
        return pkcs7.pkcs7_decrypt_smime(data, cert, key, [])
    except (ValueError, TypeError) as exc:
        raise SecurityError(f"cannot decrypt: {exc}") from None


def verify(data: bytes, *, ca_file: str | None, ca_path: str | None) -> tuple[bytes, str]:
    """Check the signature against the CAs; return ``(signed content, signer DN)``.

    The DN is in OpenSSL's one-line form ``/C=../O=../CN=..`` as SSM compares
    it.  Raises :class:`SecurityError` with openssl's reason on any failure.
    """
    if not ca_file and not ca_path:
        raise SecurityError("no CA to verify against: set security.ca_file or security.ca_path")
    with tempfile.TemporaryDirectory(prefix="spoolq-verify-") as scratch:
        signer_file = os.path.join(scratch, "signer.pem")
        command = ["openssl", "smime", "-verify", "-binary", "-signer", signer_file]
        command += ["-CAfile", ca_file] if ca_file else []
        command += ["-CApath", ca_path] if ca_path else []
        try:
            done = subprocess.run(command, input=data, capture_output=True, timeout=OPENSSL_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise SecurityError(f"openssl smime -verify took longer than {OPENSSL_TIMEOUT:g} s") from None
        if done.returncode != 0:
            reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise SecurityError("signature verification failed: " + " / ".join(reason[:3]))
        return done.stdout, subject_dn(load_certificate(signer_file))


def subject_dn(cert: x509.Certificate) -> str:
    """The subject as ``/C=CH/O=Example/CN=host.example.org`` (OpenSSL's old one-line form)."""
    parts = []
    for rdn in cert.subject.rdns:
        for attribute in rdn:
            name = attribute.rfc4514_attribute_name
            if name.startswith("1.2.840.113549.1.9.1"):
                name = "emailAddress"
            parts.append(f"{name}={attribute.value}")
    return "/" + "/".join(parts)
