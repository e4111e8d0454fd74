"""A spool root: the named spools of one deployment, side by side.

Layout (documented in the README)::

    ROOT/
      <name>/            one spool per component input, reply or outgoing queue
      parked/<name>/     messages from spool <name> that could not be handled
                         or parsed, each with its reason (see spoolq.spool.parking)

A spool name is letters, digits, ``_``, ``-`` and ``.``; ``parked`` is reserved.
"""

from __future__ import annotations

import os
import re

from spoolq.errors import SpoolError
from spoolq.spool import layout
from spoolq.spool.queue import Spool

PARKED_DIR = "parked"
RESERVED_NAMES = frozenset({PARKED_DIR})
_VALID_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}").fullmatch


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
        """The spool called ``name`` (created unless ``create`` is false)."""
        spool = self._open.get(name)
        if spool is None:
            check_spool_name(name)
            spool = self._open[name] = self._make(os.path.join(self.path, name), create)
        return spool

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


def _subdirectories(path: str, exclude: frozenset[str]) -> list[str]:
    try:
        entries = os.scandir(path)
    except FileNotFoundError:
        return []
    with entries:
        return sorted(e.name for e in entries if e.is_dir() and e.name not in exclude and _VALID_NAME(e.name))
