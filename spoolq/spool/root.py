"""A spool root: the named spools of one deployment, side by side.

Layout (documented in the README)::

    ROOT/
      <name>/            one spool per component input, reply or outgoing queue
      parked/<name>/     messages from spool <name> that could not be handled
                         or parsed, each with its reason (see spoolq.spool.parking)
      .spoolq-root       the marker: this directory is a spool root

A spool name is letters, digits, ``_``, ``-`` and ``.``; ``parked`` is reserved.

The marker is written whenever a spool is created (``spoolq init``, a daemon
starting on a new root), so that a mistyped ``--root`` or ``SPOOLQ_ROOT`` is
refused instead of showing an empty, healthy-looking root.  A root made before
the marker existed is still recognised by its contents: one spool holding an
intermediate directory, or a ``parked/`` area (:func:`looks_like_root`).
"""

from __future__ import annotations

import os
import re

from spoolq.errors import SpoolError
from spoolq.spool import layout
from spoolq.spool.queue import Spool

PARKED_DIR = "parked"
ROOT_MARKER = ".spoolq-root"
_MARKER_TEXT = b"This directory is a spoolq spool root (see the README: 'The spool root').\n"
RESERVED_NAMES = frozenset({PARKED_DIR})
_VALID_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}").fullmatch
_INTERMEDIATE = re.compile(r"[0-9a-f]{8}").fullmatch


def check_spool_name(name: str) -> str:
    """Return ``name`` if it can name a spool, else raise :class:`SpoolError`."""
    if not _VALID_NAME(name or "") or name in RESERVED_NAMES:
        raise SpoolError(
            f"{name!r} is not a valid spool name: use letters, digits, '_', '-', '.' "
            f"(not starting with '.' or '-'), and not {sorted(RESERVED_NAMES)}"
        )
    return name


class SpoolRoot:
    """The directory that holds a deployment's spools; opens them by name."""

    def __init__(
        self,
        path: str | os.PathLike,
        *,
        durable: bool = True,
        granularity: int = layout.DEFAULT_GRANULARITY,
    ):
        self.path = os.fspath(path)
        self.durable = durable
        self.granularity = granularity
        self._open: dict[str, Spool] = {}

    def __repr__(self) -> str:
        return f"SpoolRoot({self.path!r})"

    def spool(self, name: str, *, create: bool = True) -> Spool:
        """The spool called ``name`` (created unless ``create`` is false, the root marked as one)."""
        spool = self._open.get(name)
        if spool is None:
            check_spool_name(name)
            spool = self._open[name] = self._make(os.path.join(self.path, name), create)
            if create:
                self.mark()
        return spool

    def mark(self) -> None:
        """Create the root directory if need be and write its marker (nothing when already there)."""
        os.makedirs(self.path, exist_ok=True)
        marker = os.path.join(self.path, ROOT_MARKER)
        if not os.path.exists(marker):
            try:
                fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                return  # another process marked it first
            with os.fdopen(fd, "wb") as handle:
                handle.write(_MARKER_TEXT)

    def is_marked(self) -> bool:
        return os.path.isfile(os.path.join(self.path, ROOT_MARKER))

    def looks_like_root(self) -> bool:
        """Marked, or (a root made before the marker) holding a spool in use or a parked area."""
        if self.is_marked() or os.path.isdir(os.path.join(self.path, PARKED_DIR)):
            return True
        return any(_holds_intermediate(os.path.join(self.path, name)) for name in self.spool_names())

    def strangers(self) -> list[str]:
        """Entries at the top of the root that are neither spools nor spoolq's own (names sorted).

        Dot-entries (``.state``, ``.metrics``, the marker...) are spoolq's or
        an operator's hidden files and are not counted.
        """
        try:
            entries = os.scandir(self.path)
        except FileNotFoundError:
            return []
        with entries:
            return sorted(
                entry.name + ("/" if entry.is_dir() else "")
                for entry in entries
                if not entry.name.startswith(".")
                and not (entry.is_dir() and (entry.name == PARKED_DIR or _VALID_NAME(entry.name)))
            )

    def parked(self, name: str, *, create: bool = True) -> Spool:
        """Where messages from spool ``name`` go when they cannot be handled."""
        key = f"{PARKED_DIR}/{name}"
        spool = self._open.get(key)
        if spool is None:
            check_spool_name(name)
            spool = self._open[key] = self._make(os.path.join(self.path, PARKED_DIR, name), create)
        return spool

    def _make(self, path: str, create: bool) -> Spool:
        return Spool(path, durable=self.durable, granularity=self.granularity, create=create)

    def spool_names(self) -> list[str]:
        """Spools that exist under the root, sorted (parked ones not included)."""
        return _subdirectories(self.path, exclude=RESERVED_NAMES)

    def parked_names(self) -> list[str]:
        """Spools that have a parked area."""
        return _subdirectories(os.path.join(self.path, PARKED_DIR), exclude=frozenset())


def _holds_intermediate(path: str) -> bool:
    try:
        with os.scandir(path) as entries:
            return any(_INTERMEDIATE(entry.name) and entry.is_dir() for entry in entries)
    except OSError:
        return False


def _subdirectories(path: str, exclude: frozenset[str]) -> list[str]:
    try:
        entries = os.scandir(path)
    except FileNotFoundError:
        return []
    with entries:
        return sorted(e.name for e in entries if e.is_dir() and e.name not in exclude and _VALID_NAME(e.name))
