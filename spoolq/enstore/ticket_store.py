"""Tickets of files waiting to be archived, one small file each, out of the main state.

The Policy Engine's state file is rewritten on every message; keeping whole
tickets in it made each rewrite grow with the number of pending files.  The
state keeps only ids and sizes, and the tickets live here:
``ROOT/.state/<name>-tickets/<file id>.json``.  A ticket is written before the
state that refers to it (and fsynced first when the root is durable, as the
state is), so a crash leaves at worst an unreferenced ticket, never a
reference without its ticket.
"""

from __future__ import annotations

import json
import os

from spoolq.enstore.state import STATE_DIR
from spoolq.spool.atomic_file import write_atomically


class TicketStore:
    def __init__(self, root_path: str, name: str, durable: bool = True):
        self.durable = durable
        self.directory = os.path.join(root_path, STATE_DIR, f"{name}-tickets")
        os.makedirs(self.directory, exist_ok=True)

    def _path(self, file_id: str) -> str:
        return os.path.join(self.directory, f"{os.path.basename(file_id)}.json")

    def put(self, file_id: str, ticket: dict) -> None:
        text = json.dumps(ticket, separators=(",", ":"))
        write_atomically(self._path(file_id), text, durable=self.durable)

    def get(self, file_id: str) -> dict | None:
        """The ticket of ``file_id``, or ``None`` if it is gone (removed by hand)."""
        try:
            with open(self._path(file_id), encoding="utf-8") as handle:
                return json.load(handle)
        except FileNotFoundError:
            return None

    def drop(self, file_id: str) -> None:
        try:
            os.unlink(self._path(file_id))
        except FileNotFoundError:
            pass
