"""The security of messages between nodes: what the shipper wraps, what the receiver checks.

Outgoing (:class:`Sealer`): the element's bytes are signed with the node's
certificate and key in APEL SSM's clear-signed S/MIME form, then,
optionally, encrypted to the receiving node's certificate.  Incoming
(:class:`Opener`): decrypted with our key when encrypted, the signer's chain
checked against the CA file or directory and the signature verified as SSM
does (:mod:`spoolq.shippers.security.smime`), the signer DN checked against
the allow- and deny-lists.  The signer DN reaches handlers in the ``signer-dn`` header.
Every failure is a :class:`SecurityError` whose text the receiver parks the
message with.
"""

from __future__ import annotations

from spoolq.errors import SecurityError
from spoolq.shippers.config import SecurityConfig
from spoolq.shippers.security import smime
from spoolq.shippers.security.dnlists import SignerPolicy

SIGNER_DN = "signer-dn"


class SignerRefused(SecurityError):
    """A good signature by a signer the DN lists refuse; carries the DN and the verified content."""

    def __init__(self, reason: str, dn: str, content: bytes):
        super().__init__(reason)
        self.dn = dn
        self.content = content


class Sealer:
    """Signs (and maybe encrypts) outgoing bodies."""

    def __init__(self, security: SecurityConfig, *, sign: bool, encrypt_to: str | None):
        self.sign = sign
        if sign and not (security.cert and security.key):
            raise SecurityError("signing needs security.cert and security.key in the configuration")
        self.cert = smime.load_certificate(security.cert) if sign else None
        self.key = smime.load_key(security.key) if sign else None
        self.recipient = smime.load_certificate(encrypt_to) if encrypt_to else None

    @property
    def active(self) -> bool:
        return self.sign or self.recipient is not None

    def seal(self, data: bytes) -> bytes:
        if self.sign:
            data = smime.sign(data, self.cert, self.key)
        if self.recipient is not None:
            data = smime.encrypt(data, self.recipient)
        return data


class Opener:
    """Decrypts and verifies incoming bodies; returns the content and the signer DN."""

    def __init__(self, security: SecurityConfig):
        self.security = security
        self.policy = SignerPolicy(security.allow_list, security.deny_list)
        self._cert = self._key = None
        if security.cert and security.key:
            self._cert = smime.load_certificate(security.cert)
            self._key = smime.load_key(security.key)

    def open(self, data: bytes) -> tuple[bytes, str]:
        if smime.is_encrypted(data):
            if self._key is None:
                raise SecurityError("message is encrypted but security.cert/key are not configured")
            data = smime.decrypt(data, self._cert, self._key)
        if not smime.is_smime(data):
            raise SecurityError("message is not signed (S/MIME expected)")
        security = self.security
        content, dn = smime.verify(
            data, ca_file=security.ca_file, ca_path=security.ca_path, check_crls=security.check_crls
        )
        refusal = self.policy.refusal(dn)
        if refusal:
            raise SignerRefused(refusal, dn, content)
        return content, dn
