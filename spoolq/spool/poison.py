"""Deaths counted per element: a message that kills its process is poison.

A handler that segfaults, runs out of memory or calls ``os._exit`` takes its
process down with the message in hand, and no ``except`` ever runs: the
retry count in the message (:mod:`spoolq.component.retry`) is never bumped.
So the count is kept beside the spool instead, in
``ROOT/.state/deaths/<spool>/<dir>-<elt>`` (one small file holding a number),
bumped by the successor that finds the dead process's owner file naming
the element in hand (:mod:`spoolq.spool.owners`, :mod:`spoolq.spool.takeover`).  Element
names are never reused, so a count cannot be inherited by another message;
counts of elements that are gone are dropped at the next take-over.

Only deaths are rare here: nothing on the message path reads or writes
these files.
"""

from __future__ import annotations

import os

from spoolq.spool import layout
from spoolq.spool.owners import STATE_DIR

DEATHS_DIR = "deaths"
REASON = "the process died while handling it"


def deaths_path(root_path: str, spool_name: str) -> str:
    return os.path.join(root_path, STATE_DIR, DEATHS_DIR, spool_name)


def count_death(root_path: str, spool_name: str, name: str) -> int:
    """One more death while handling element ``name``; the count so far, this one included."""
    directory = deaths_path(root_path, spool_name)
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name.replace("/", "-"))
    deaths = deaths_of(path) + 1
    making = f"{path}.{os.getpid()}.tmp"
    with open(making, "w", encoding="ascii") as handle:
        handle.write(f"{deaths}\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(making, path)  # a successor killed meanwhile leaves the old count, never a torn one
    return deaths


def deaths_of(path: str) -> int:
    try:
        with open(path, encoding="ascii") as handle:
            return max(0, int(handle.read().strip() or 0))
    except (FileNotFoundError, ValueError, UnicodeDecodeError):
        return 0


def forget(root_path: str, spool_name: str, name: str) -> None:
    try:
        os.unlink(os.path.join(deaths_path(root_path, spool_name), name.replace("/", "-")))
    except FileNotFoundError:
        pass


def forget_gone(root_path: str, spool_path: str, spool_name: str) -> None:
    """Drop the counts of elements no longer in the spool (handled since, or parked)."""
    directory = deaths_path(root_path, spool_name)
    try:
        entries = os.listdir(directory)
    except FileNotFoundError:
        return
    for entry in entries:
        name = entry.replace("-", "/", 1)
        if layout.is_element_path(name) and os.path.lexists(f"{spool_path}/{name}"):
            continue
        try:
            os.unlink(os.path.join(directory, entry))
        except FileNotFoundError:
            pass
