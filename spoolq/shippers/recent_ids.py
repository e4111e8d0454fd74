"""The ids of recently received messages, kept on disk so a restarted receiver remembers.

A broker redelivers a message whose ack it did not get (the receiver died
between writing and acking, or the connection dropped).  The receiver records
each written message's id here *after* the write and *before* the ack; a
redelivered id found here is acked and dropped.  The file is append-only, one
id per line, fsynced per batch; it is rewritten (atomically) with the newest
``window`` ids when it grows past twice that.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterable

from spoolq.spool.atomic_file import write_atomically


class RecentIds:
    """A bounded, persistent set of message ids (oldest forgotten first)."""

    def __init__(self, path: str, window: int):
        self.path = path
        self.window = window
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lines = 0
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    self._remember(line.strip())
                    self._lines += 1
        except FileNotFoundError:
            pass
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115  (held open while receiving)

    def __contains__(self, message_id: str) -> bool:
        return message_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def _remember(self, message_id: str) -> None:
        if not message_id or not self.window:
            return
        self._ids[message_id] = None
        self._ids.move_to_end(message_id)
        while len(self._ids) > self.window:
            self._ids.popitem(last=False)

    def add_many(self, ids: Iterable[str]) -> None:
        """Record ``ids`` durably (one fsync) before the caller acks them."""
        ids = [i for i in ids if i and "\n" not in i]
        if not ids or not self.window:
            return
        for message_id in ids:
            self._remember(message_id)
        self._file.write("".join(f"{i}\n" for i in ids))
        self._file.flush()
        os.fdatasync(self._file.fileno())
        self._lines += len(ids)
        if self._lines > 2 * self.window:
            self._compact()

    def _compact(self) -> None:
        write_atomically(self.path, "".join(f"{i}\n" for i in self._ids))
        self._file.close()
        self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        self._lines = len(self._ids)

    def close(self) -> None:
        self._file.close()


def received_by(directory: str, wanted: str) -> list[str]:
    """The receivers (by name) whose recent-ids file in ``directory`` records ``wanted``."""
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".ids"))
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for name in names:
        try:
            with open(os.path.join(directory, name), encoding="utf-8", errors="replace") as handle:
                if any(line.rstrip("\n") == wanted for line in handle):
                    found.append(name[: -len(".ids")])
        except OSError:
            continue
    return found
