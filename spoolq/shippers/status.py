"""What a running shipper tells ``spoolq stats``: ROOT/.shippers/<name>.json.

Each shipper rewrites its file when something in it changed, at most about
once a second, atomically (a temporary file renamed over the old one), so a
reader sees either the old or the new state, never half of one.  An idle
shipper does not touch it at all: a rewrite every second was most of what 50
idle shippers cost.  :func:`shipper_rows` reads them all back; the file of a
shipper whose process is gone, without having said ``stopped``, shows as
``stale``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field

from spoolq.spool.atomic_file import write_atomically
from spoolq.spool.processes import alive

STATE_DIR = ".shippers"
#: A receiver connected to its broker but subscribed to nothing: it receives no message.
NOT_CONSUMING = "not consuming"
#: What ``spoolq stats`` shows of each shipper.
SHIPPER_COLUMNS = (
    "shipper", "kind", "state", "broker", "backlog", "in_flight", "done", "parked", "rate", "reason",
)  # fmt: skip


@dataclass
class ShipperStatus:
    """The live counters of one shipper."""

    name: str
    kind: str  # "ship" or "receive"
    spool: str = ""  # ship: the outgoing spool it empties; receive: where unaddressed messages go
    state: str = "disconnected"  # connected, disconnected, login refused, not consuming, waiting, stopped
    broker: str = ""  # host:port of the current connection
    backlog: int = 0  # ship: elements waiting in the outgoing spool
    in_flight: int = 0
    done: int = 0  # sent (receipt received) or received (written, once: a redelivery is a duplicate)
    parked: int = 0
    duplicates: int = 0
    reconnects: int = 0  # connections made after the first
    rate: float = 0.0  # messages per second over the last interval
    last_error: str = ""
    reason: str = ""  # why it moves no message now (not connected, waiting, not consuming); "" when it does
    pid: int = field(default_factory=os.getpid)
    updated: float = 0.0


class StatusFile:
    """Writes one shipper's status under the spool root when it changed, at most once per ``interval``."""

    def __init__(self, root_path: str, status: ShipperStatus, interval: float = 1.0):
        self.directory = os.path.join(root_path, STATE_DIR)
        self.path = os.path.join(self.directory, f"{status.name}.json")
        self.status = status
        self.interval = interval
        self._last_write = 0.0
        self._last_done = 0
        self._written: dict | None = None  # the fields last written, less the clock-made ones

    def due(self) -> bool:
        """Whether ``interval`` has passed since the last write (so costly figures are worth computing)."""
        return time.monotonic() - self._last_write >= self.interval

    def changed(self) -> bool:
        """Whether the file no longer says what the status is (a rate not yet back to 0 counts)."""
        return self._written is None or self.status.rate != 0 or self._fields() != self._written

    def due_in(self) -> float | None:
        """Seconds until :meth:`maybe_write` would write; ``None`` when it has nothing to write."""
        if not self.changed():
            return None
        return max(0.0, self.interval - (time.monotonic() - self._last_write))

    def maybe_write(self, force: bool = False) -> None:
        now = time.monotonic()
        elapsed = now - self._last_write
        if not force and (elapsed < self.interval or not self.changed()):
            return
        if self._last_write:
            self.status.rate = round((self.status.done - self._last_done) / max(elapsed, 1e-6), 1)
        self._last_write, self._last_done = now, self.status.done
        self.status.updated = time.time()
        self._written = self._fields()
        text = json.dumps(asdict(self.status), sort_keys=True)
        write_atomically(self.path, text, durable=False)  # rewritten often; a lost one is harmless

    def _fields(self) -> dict:
        fields = asdict(self.status)
        del fields["updated"], fields["rate"]
        return fields


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
        if row.get("state") != "stopped" and not alive(row.get("pid")):
            row["state"] = "stale"
        rows.append({"shipper": row.get("name"), **row})
    return rows
