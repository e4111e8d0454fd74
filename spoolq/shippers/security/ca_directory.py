"""A directory of CA certificates (``ca_path``) turned into one bundle file for stomp.py.

stomp.py hands its ``ca_certs`` to ``SSLContext.load_verify_locations(cafile)``
only, so a grid-style CA directory (``/etc/grid-security/certificates``:
``*.pem`` files, hashed ``*.0`` links to them, ``*.signing_policy``,
``*.namespaces``, ``*.r0`` CRLs, ``*.info``) cannot be given as it is.
:func:`write_bundle` reads every regular file of the directory, keeps only the
``CERTIFICATE`` PEM blocks that parse as X.509 certificates (so a CRL, a
policy file or a stray private key is never copied), drops duplicates (a hash
link and its target are the same certificate), and writes the rest to a
private file (mode 0600) that replaces the previous bundle atomically.

It runs at each connect, so CAs added or removed by the operator (or by a CA
package update) take effect at the next connection without a restart.
"""

from __future__ import annotations

import logging
import os
import re

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from spoolq.spool.atomic_file import write_atomically

log = logging.getLogger("spoolq.shippers")

MAX_FILE_SIZE = 1024 * 1024  # a CA file is a few KiB; anything larger is not one
_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n.+?\r?\n-----END CERTIFICATE-----", re.DOTALL
)


class NoCACertificates(ValueError):
    """The directory is missing, unreadable, or holds no CA certificate."""


def ca_certificates(directory: str) -> list[x509.Certificate]:
    """Every distinct certificate in the directory's files, in file-name order.

    Raises :class:`NoCACertificates` when there is none (or no directory).
    """
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        raise NoCACertificates(f"{directory}: cannot list: {exc.strerror}") from None
    found: dict[bytes, x509.Certificate] = {}
    for name in names:
        for cert in _certificates_in(os.path.join(directory, name)):
            found.setdefault(cert.public_bytes(Encoding.DER), cert)
    if not found:
        raise NoCACertificates(
            f"{directory}: no CA certificate in it (expected PEM files such as *.pem or hashed *.0)"
        )
    return list(found.values())


def _certificates_in(path: str) -> list[x509.Certificate]:
    """The certificates of one file; nothing for a non-regular, large or unreadable file."""
    try:
        if not os.path.isfile(path) or os.path.getsize(path) > MAX_FILE_SIZE:
            return []  # a directory, a socket, a dangling hash link, or not a CA file
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_SIZE)
    except OSError as exc:
        log.warning("ca_path: skipping unreadable %s: %s", path, exc.strerror)
        return []
    certificates = []
    for block in _PEM_CERTIFICATE.findall(data):
        try:
            certificates.append(x509.load_pem_x509_certificate(block))
        except ValueError as exc:
            log.warning("ca_path: skipping a damaged certificate in %s: %s", path, exc)
    return certificates


def write_bundle(directory: str, bundle_path: str) -> int:
    """Write the directory's certificates to ``bundle_path`` (0600, atomic); return how many.

    Raises :class:`NoCACertificates` (and leaves any old bundle as it was) when
    the directory holds none; :class:`OSError` when the bundle cannot be written.
    """
    certificates = ca_certificates(directory)
    text = b"".join(cert.public_bytes(Encoding.PEM) for cert in certificates)
    write_atomically(bundle_path, text, durable=False, mode=0o600)  # rebuilt at each connect
    return len(certificates)
