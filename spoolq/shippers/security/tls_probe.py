"""Why a TLS connection to the broker failed, in words an operator can act on.

stomp.py logs the TLS error of a failed connect and raises a bare
``ConnectFailedException``.  After such a failure :func:`handshake_problem`
repeats only the handshake, with the same CA bundle and client certificate,
so that the shipper's error says "the broker's certificate is not trusted:
unable to get local issuer certificate" instead of "no host answered".
It costs one extra connection, and only when connecting has already failed.
"""

from __future__ import annotations

import socket
import ssl


def handshake_problem(
    host: str,
    port: int,
    *,
    ca_file: str | None,
    cert_file: str | None = None,
    key_file: str | None = None,
    timeout: float = 5.0,
) -> str | None:
    """The reason a TLS handshake with ``host:port`` fails, or ``None`` if it does not fail on TLS.

    A plain network failure (refused, timed out) returns ``None``: that is not a
    TLS problem, and the connect error already says it.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the chain and the host name
    try:
        context.load_verify_locations(ca_file)
        if cert_file:
            context.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as exc:
        return f"cannot load the TLS files: {exc}"
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host),
        ):
            return None
    except ssl.SSLCertVerificationError as exc:
        return f"the broker's certificate is not trusted: {exc.verify_message}"
    except ssl.SSLError as exc:
        return f"TLS handshake failed: {exc.reason or exc}"
    except OSError:
        return None
