"""A bounded record of the messages a shipper sent: id, destination and time, for ``spoolq find``.

Once the broker's receipt for a send arrives, the element is removed from
the outgoing spool, and nothing on this node would say where the message
went.  So each sending shipper appends one line per acknowledged send to
``ROOT/.shippers/<name>.sent``::

    <unix time> TAB <spoolq-id> TAB <destination> TAB <element name>

written once per settled batch (one ``write``, no ``fsync``: it is a record
for operators, not a guarantee, and a crash may lose its last lines).  It is
bounded: past :data:`LINES_PER_FILE` lines the file is renamed to
``<name>.sent.1`` (replacing the older one) and begun anew, so at most twice
that many sends are remembered, the newest.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

SUFFIX = ".sent"
PREVIOUS = ".1"
LINES_PER_FILE = 10_000

log = logging.getLogger("spoolq.shippers")


@dataclass(frozen=True)
class SentRecord:
    """One acknowledged send, as recorded."""

    shipper: str
    message_id: str
    destination: str
    element: str
    sent_at: float


class SentLog:
    """Appends a shipper's acknowledged sends to its ``.sent`` file (see the module docstring)."""

    def __init__(self, directory: str, shipper: str, lines_per_file: int = LINES_PER_FILE):
        self.path = os.path.join(directory, shipper + SUFFIX)
        self.lines_per_file = lines_per_file
        os.makedirs(directory, exist_ok=True)
        try:
            with open(self.path, "rb") as handle:
                self._lines = sum(1 for _line in handle)
        except FileNotFoundError:
            self._lines = 0
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115  (held open while shipping)
        self._failed = False

    def add_many(self, sends: Iterable[tuple[str, str, str]]) -> None:
        """Record ``(spoolq-id, destination, element)`` for each send of a settled batch."""
        now = f"{time.time():.6f}"
        lines = [f"{now}\t{_field(i)}\t{_field(d)}\t{_field(e)}\n" for i, d, e in sends]
        if not lines or self._failed:
            return
        try:
            self._file.write("".join(lines))
            self._file.flush()
            self._lines += len(lines)
            if self._lines >= self.lines_per_file:
                self._rotate()
        except (OSError, ValueError) as exc:  # a full disk must not stop the sending it records
            self._failed = True
            log.warning("%s: cannot record sent messages any more (until restart): %s", self.path, exc)

    def _rotate(self) -> None:
        self._file.close()
        os.replace(self.path, self.path + PREVIOUS)
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        self._lines = 0

    def close(self) -> None:
        self._file.close()


def _field(text: str) -> str:
    return text.replace("\t", " ").replace("\n", " ")


def find_sent(directory: str, wanted: str) -> list[SentRecord]:
    """Every recorded send of the message ``wanted`` by any shipper whose files are in ``directory``."""
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith((SUFFIX, SUFFIX + PREVIOUS)))
    except (FileNotFoundError, NotADirectoryError):
        return []
    needle = f"\t{wanted}\t"
    found = []
    for name in names:
        shipper = name[: name.rindex(SUFFIX)]
        try:
            with open(os.path.join(directory, name), encoding="utf-8", errors="replace") as handle:
                lines = [line for line in handle if needle in line]
        except OSError:
            continue
        for line in lines:
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 4 or fields[1] != wanted:
                continue
            try:
                sent_at = float(fields[0])
            except ValueError:
                continue
            found.append(SentRecord(shipper, fields[1], fields[2], fields[3], sent_at))
    return sorted(found, key=lambda record: record.sent_at)
