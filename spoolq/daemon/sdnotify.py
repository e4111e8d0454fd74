"""sd_notify(3) without a dependency: one datagram to ``$NOTIFY_SOCKET``.

``notify("READY=1")`` tells systemd (``Type=notify``) that the service is up;
``STOPPING=1``, ``RELOADING=1`` and ``STATUS=...`` keep ``systemctl status``
honest.  Without ``$NOTIFY_SOCKET`` (not started by systemd) it does nothing.
A socket name starting with ``@`` is in the abstract namespace.
"""

from __future__ import annotations

import logging
import os
import socket

log = logging.getLogger("spoolq.sdnotify")


def notify(*assignments: str) -> bool:
    """Send ``assignments`` (``"READY=1"``, ...) as one datagram; ``True`` if sent.

    Failure to send is logged, never raised: a daemon must not die because its
    service manager went away.
    """
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    payload = "\n".join(assignments).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(payload, address)
    except OSError as exc:
        log.warning("cannot notify the service manager at %s: %s", address.lstrip("\0"), exc)
        return False
    return True
