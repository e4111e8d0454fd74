"""The UDP requests waiting for a reply, kept on disk so that a restarted proxy still answers.

A legacy Enstore client sends a ticket and waits (and retries) for the answer
on its own socket.  If the proxy restarts while a request is being handled,
the reply must still reach that client: each waiting request is one small
JSON file, ``ROOT/.state/udp-<reply spool>/<message-id>`` holding the
client's address, the form of the ticket and when it came, written
atomically when the request is forwarded and removed when it is answered or
expires.  UDP tickets are control traffic (a few a second), so a file each
costs nothing worth saving.  A file that cannot be read back is dropped with
a warning: its reply, when it comes, is parked as one nobody waits for.
"""

from __future__ import annotations

import json
import logging
import os
import time

from spoolq.spool import element
from spoolq.spool.atomic_file import write_atomically

log = logging.getLogger("spoolq.udp_proxy")

Peer = tuple[str, int]


class PendingRequests:
    """``message-id -> (peer, form, since)``, mirrored in a directory; ``since`` is wall time."""

    def __init__(self, directory: str):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self._waiting: dict[str, tuple[Peer, str, float]] = {}
        for name in sorted(os.listdir(directory)):
            if not name.startswith("."):  # a temporary of write_atomically
                self._load(name)

    def __len__(self) -> int:
        return len(self._waiting)

    def _load(self, message_id: str) -> None:
        path = os.path.join(self.directory, message_id)
        try:
            with open(path, encoding="utf-8") as handle:
                entry = json.load(handle)
            host, port = entry["peer"]
            self._waiting[message_id] = ((str(host), int(port)), str(entry["form"]), float(entry["since"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("udp-proxy: dropping unreadable pending request %s: %s", path, exc)
            element.unlink_quietly(path)

    def add(self, message_id: str, peer: Peer, form: str) -> None:
        since = time.time()
        entry = json.dumps({"peer": list(peer), "form": form, "since": since})
        write_atomically(os.path.join(self.directory, message_id), entry, durable=False)
        self._waiting[message_id] = (peer, form, since)

    def pop(self, message_id: str) -> tuple[Peer, str, float] | None:
        """The request ``message_id`` answers, forgotten; ``None`` if nobody waits for it."""
        entry = self._waiting.pop(message_id, None)
        if entry is not None:
            element.unlink_quietly(os.path.join(self.directory, message_id))
        return entry

    def expire(self, timeout: float) -> int:
        """Forget requests older than ``timeout`` seconds; how many."""
        limit = time.time() - timeout
        old = [key for key, (_, _, since) in self._waiting.items() if since < limit]
        for key in old:
            self.pop(key)
        return len(old)
