"""Which live processes consume a spool, and which of them holds a given element: read-only.

``spoolq find`` says "locked by pid N" from the owner files of
:mod:`spoolq.spool.owners`.  It only reads them: it never takes their
``flock``, which a successor taking over a dead owner relies on.  Whether an
owner lives is asked of the kernel by its pid (the file's name), which is
enough for a report to an operator.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from spoolq.spool.owners import _read_dead, owners_path
from spoolq.spool.processes import alive


@dataclass(frozen=True)
class Holder:
    """One consuming process of a spool: its pid, whether it is alive, and the claims its file notes."""

    pid: int
    alive: bool
    in_hand: tuple[str, ...]
    claimed: tuple[str, ...]

    def holds(self, name: str) -> bool:
        return name in self.in_hand or name in self.claimed


def holders(root_path: str, spool_name: str) -> list[Holder]:
    """Every owner file of ``spool_name`` as a :class:`Holder` (files being made are skipped)."""
    directory = owners_path(root_path, spool_name)
    try:
        names = sorted(os.listdir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for name in names:
        pid_text, sep, _started = name.partition("-")
        if not sep or not pid_text.isdigit() or name.endswith(".tmp"):
            continue
        path = os.path.join(directory, name)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue  # buried by a successor meanwhile
        try:
            noted = _read_dead(path, fd)  # the slots' format; "dead" is only the function's name
        finally:
            os.close(fd)
        pid = int(pid_text)
        found.append(Holder(pid, alive(pid), noted.in_hand, noted.claimed))
    return found
