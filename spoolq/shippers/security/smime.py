"""S/MIME signing, encryption and verification in APEL SSM's wire format.

Signing gives what ``openssl smime -sign -text`` writes and SSM sends: a
clear-signed ``multipart/signed`` message whose first part is the MIME text
entity of :mod:`spoolq.shippers.security.mime_text` (``Content-Type:
text/plain``, a blank line, the body).  Encryption wraps that as ``openssl
smime -encrypt`` does (AES-128 enveloped data).  ``cryptography`` signs,
encrypts and decrypts; it does not verify, so verification runs ``openssl``
(input on stdin, no shell) the way SSM does: the signer's certificate chain
with ``openssl verify`` against the CAs (CRLs too with ``check_crls``), then
the signature with ``openssl smime -verify -noverify``.  So a grid host
certificate, whose extended key usage names ``serverAuth`` and
``clientAuth`` but not ``emailProtection``, is accepted, as SSM accepts it;
the chain, its dates and the signature are still checked.

The opaque form spoolq once sent (``application/pkcs7-mime;
smime-type=signed-data``, raw bytes signed) is still read, so nodes of an
older release keep reaching a newer one; it is never sent (SSM cannot read it).
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from spoolq.errors import SecurityError
from spoolq.shippers.security import mime_text

OPENSSL_TIMEOUT = 30.0
MAX_HEADER = 4096  # an S/MIME message's own header is a few lines
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


def sign(data: bytes, cert: x509.Certificate, key) -> bytes:
    """``data`` clear-signed (SHA-256) in SSM's form: ``multipart/signed`` over its text entity."""
    entity = mime_text.wrap(data)
    builder = pkcs7.PKCS7SignatureBuilder().set_data(entity).add_signer(cert, key, hashes.SHA256())
    # Binary: the entity is already canonical (CRLF line ends), as -text signing makes it.
    options = [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]
    return builder.sign(serialization.Encoding.SMIME, options)


def encrypt(data: bytes, recipient: x509.Certificate) -> bytes:
    """``data`` encrypted to ``recipient`` (an RSA certificate) as S/MIME enveloped data."""
    builder = pkcs7.PKCS7EnvelopeBuilder().set_data(data).add_recipient(recipient)
    return builder.encrypt(serialization.Encoding.SMIME, [pkcs7.PKCS7Options.Binary])


def content_type(data: bytes) -> bytes:
    """The lowercased ``Content-Type`` of the message's own MIME header (``b""`` if none).

    Only the header (up to the first blank line) is read: a clear-signed
    body may say ``enveloped-data`` or ``multipart/signed`` in its text.
    """
    header = re.split(rb"\r?\n\r?\n", data[:MAX_HEADER], maxsplit=1)[0]
    unfolded = re.sub(rb"\r?\n[ \t]+", b" ", header)  # continuation lines joined
    for line in unfolded.splitlines():
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-type":
            return value.strip().lower()
    return b""


def is_smime(data: bytes) -> bool:
    kind = content_type(data)
    return any(kind.startswith(marker) for marker in _SMIME_MARKERS)


def is_encrypted(data: bytes) -> bool:
    """Whether the message is enveloped (encrypted) data, as ``openssl smime -encrypt`` writes it."""
    return b"enveloped-data" in content_type(data)


def decrypt(data: bytes, cert: x509.Certificate, key) -> bytes:
    try:
        return pkcs7.pkcs7_decrypt_smime(data, cert, key, [])
    except (ValueError, TypeError) as exc:
        raise SecurityError(f"cannot decrypt: {exc}") from None


def verify(
    data: bytes, *, ca_file: str | None, ca_path: str | None, check_crls: bool = False
) -> tuple[bytes, str]:
    """Check the signer and the signature as SSM does; return ``(body, signer DN)``.

    The body is what the sender's application wrote: for the clear-signed
    form, the text entity's header taken off and its encoding undone. The
    DN is in OpenSSL's one-line form ``/C=../O=../CN=..`` as SSM compares it.
    Raises :class:`SecurityError` with openssl's reason on any failure.
    """
    if not ca_file and not ca_path:
        raise SecurityError("no CA to verify against: set security.ca_file or security.ca_path")
    with tempfile.TemporaryDirectory(prefix="spoolq-verify-") as scratch:
        signer_file = os.path.join(scratch, "signer.pem")
        cas = [*(["-CAfile", ca_file] if ca_file else []), *(["-CApath", ca_path] if ca_path else [])]
        # The CAs are named here too, or openssl loads the system's whole default store (8x slower).
        checked = ["smime", "-verify", "-noverify", "-binary", *cas, "-signer", signer_file]
        content = _openssl(checked, data, "signature verification")  # the signature, not the chain
        with open(signer_file, "rb") as handle:
            signers = handle.read()
        if signers.count(b"-----BEGIN CERTIFICATE-----") != 1:
            raise SecurityError("signature verification failed: a message must have exactly one signer")
        chain = ["verify", *cas, *(["-crl_check_all"] if check_crls else [])]
        _openssl([*chain, signer_file], b"", "certificate verification")  # no purpose: host certs pass
        dn = subject_dn(x509.load_pem_x509_certificate(signers))
    if content_type(data).startswith(b"multipart/signed"):
        return mime_text.unwrap(content), dn
    return content, dn  # the opaque form: the signed bytes themselves


def _openssl(arguments: list[str], data: bytes, what: str) -> bytes:
    """``openssl ARGUMENTS`` with ``data`` on stdin; its output, or :class:`SecurityError` naming ``what``."""
    try:
        command = ["openssl", *arguments]
        done = subprocess.run(command, input=data, capture_output=True, timeout=OPENSSL_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise SecurityError(f"openssl {arguments[0]} took longer than {OPENSSL_TIMEOUT:g} s") from None
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SecurityError(f"{what} failed: " + " / ".join(reason[:3]))
    return done.stdout


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
