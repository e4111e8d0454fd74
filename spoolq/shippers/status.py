"""What a running shipper tells ``spoolq stats``: ROOT/.shippers/<name>.json.

Each shipper rewrites its file about once a second, atomically (a temporary
file renamed over the old one), so a reader sees either the old or the new
state, never half of one.  :func:`shipper_rows` reads them all back; a file
whose writer stopped updating it shows as ``stale``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field

from spoolq.spool.atomic_file import write_atomically

STATE_DIR = ".shippers"
STALE_AFTER = 10.0  # seconds without an update
#: What ``spoolq stats`` shows of each shipper.
SHIPPER_COLUMNS = ("shipper", "kind", "state", "broker", "backlog", "in_flight", "done", "parked", "rate")


@dataclass
class ShipperStatus:
    """The live counters of one shipper."""

    name: str
    kind: str  # "ship" or "receive"
    state: str = "disconnected"  # connected, disconnected, stopped
    broker: str = ""  # host:port of the current connection
    backlog: int = 0  # ship: elements waiting in the outgoing spool
    in_flight: int = 0
    done: int = 0  # sent (receipt received) or received (written and acked)
    parked: int = 0
    duplicates: int = 0
    reconnects: int = 0  # connections made after the first
    rate: float = 0.0  # messages per second over the last interval
    last_error: str = ""
    pid: int = field(default_factory=os.getpid)
    updated: float = 0.0


class StatusFile:
    """Writes one shipper's status under the spool root, at most once per ``interval``."""

    def __init__(self, root_path: str, status: ShipperStatus, interval: float = 1.0):
        self.directory = os.path.join(root_path, STATE_DIR)
        self.path = os.path.join(self.directory, f"{status.name}.json")
        self.status = status
        self.interval = interval
        self._last_write = 0.0
        self._last_done = 0

    def due(self) -> bool:
        """Whether the next :meth:`maybe_write` will write (so costly figures are worth computing)."""
        return time.monotonic() - self._last_write >= self.interval

    def maybe_write(self, force: bool = False) -> None:
        now = time.monotonic()
        elapsed = now - self._last_write
        if not force and elapsed < self.interval:
            return
        if self._last_write:
            self.status.rate = round((self.status.done - self._last_done) / max(elapsed, 1e-6), 1)
        self._last_write, self._last_done = now, self.status.done
        self.status.updated = time.time()
        text = json.dumps(asdict(self.status), sort_keys=True)
        write_atomically(self.path, text, durable=False)  # rewritten every second; a lost one is harmless


def shipper_rows(root_path: str) -> list[dict]:
    """Every shipper's last status, sorted by name; ``state`` is ``stale`` when not updated."""
    directory = os.path.join(root_path, STATE_DIR)
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".json"))
    except FileNotFoundError:
        return []
    rows = []
    for name in names:
        try:
            with open(os.path.join(directory, name), encoding="utf-8") as handle:
                row = json.load(handle)
        except (OSError, ValueError):
            continue  # being replaced, or not ours
        if not isinstance(row, dict):
            continue
        if row.get("state") != "stopped" and time.time() - float(row.get("updated", 0)) > STALE_AFTER:
            row["state"] = "stale"
        rows.append({"shipper": row.get("name"), **row})
    return rows
