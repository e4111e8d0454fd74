"""The MIME text entity that APEL SSM signs: ``Content-Type: text/plain``, a blank line, the body.

``openssl smime -sign -text`` (what SSM's sender runs) puts that header in
front of the body and turns every line end into CRLF before signing; SSM's
receiver verifies, then splits the content at its first blank line and
decodes a ``quoted-printable`` (or ``base64``) body.  :func:`wrap` writes the
entity spoolq signs and :func:`unwrap` gives back the exact bytes the sending
application wrote:

* A body that is UTF-8 text without CR or NUL goes as plain text, LF turned
  into CRLF, as ``-text`` signing does; :func:`unwrap` turns CRLF back into LF,
  which is exact because such a body had no CR.
* Any other body (CR line ends, binary bytes) goes ``quoted-printable``, which
  carries every byte: SSM decodes it too.  Every CR and LF of the body is
  written ``=0D``/``=0A``, so the only line ends are soft breaks and SSM's
  handling of line ends (CRLF -> LF, trailing ones stripped) cannot touch it.
"""

from __future__ import annotations

import base64
import binascii
import re

from spoolq.errors import SecurityError

TEXT_HEADER = b"Content-Type: text/plain\r\n\r\n"
QP_HEADER = b"Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
_HEADER_LINE = re.compile(rb"[A-Za-z0-9-]+:[^\r\n]*")
_END_OF_HEADER = re.compile(rb"\r?\n\r?\n")
MAX_HEADER = 4096  # a text entity's header is a line or two


def wrap(body: bytes) -> bytes:
    """The entity to sign for ``body``: plain text when that is exact, else quoted-printable."""
    if is_plain_text(body):
        return TEXT_HEADER + body.replace(b"\n", b"\r\n")
    encoded = binascii.b2a_qp(body, istext=False)  # every CR and LF written =0D, =0A
    return QP_HEADER + encoded.replace(b"\n", b"\r\n")


def is_plain_text(body: bytes) -> bool:
    """Whether ``body`` survives ``-text`` canonicalisation (LF -> CRLF) and its undoing exactly."""
    if b"\r" in body or b"\0" in body:
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def unwrap(entity: bytes) -> bytes:
    """The body of a verified text entity: its MIME header taken off, its encoding undone.

    Raises :class:`SecurityError` when the signed content is no MIME entity
    (signed without ``-text``: SSM refuses those too).
    """
    end = _END_OF_HEADER.search(entity, 0, MAX_HEADER + 4)
    header_lines = entity[: end.start()].splitlines() if end else []
    if not end or not header_lines or not all(_HEADER_LINE.fullmatch(line) for line in header_lines):
        raise SecurityError(
            "signed content has no MIME text header (Content-Type: text/plain and a blank line,"
            " as openssl smime -sign -text writes)"
        )
    body = entity[end.end() :]
    encoding = _transfer_encoding(header_lines)
    if encoding == b"quoted-printable":
        return binascii.a2b_qp(body.replace(b"\r\n", b"\n"))  # line ends here are soft breaks
    if encoding == b"base64":
        try:
            return base64.b64decode(body)
        except binascii.Error as exc:
            raise SecurityError(f"signed base64 body does not decode: {exc}") from None
    if encoding not in (b"", b"7bit", b"8bit", b"binary"):
        raise SecurityError(f"signed content has an unknown Content-Transfer-Encoding {encoding.decode()!r}")
    return body.replace(b"\r\n", b"\n")


def _transfer_encoding(header_lines: list[bytes]) -> bytes:
    for line in header_lines:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-transfer-encoding":
            return value.strip().lower()
    return b""
