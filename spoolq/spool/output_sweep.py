"""Sweeping the spools a daemon writes to, for the temporaries a killed writer left there.

A daemon purges its input spool (stale locks, temporaries) at start and
every so often.  The spools it *writes* to collect debris of their own when
it is killed mid-write: ``.tmp`` files of a small batch, ``.batch-*``
staging directories of a large one.  No reader ever sees them, but they use
space until a purge.  This sweep removes, in those spools, only temporaries
that cannot belong to a live writer: those whose name shows their writer
process has ended (:mod:`spoolq.spool.temporaries`), and those older than
:data:`TEMPORARY_AGE`, the age ``spoolq purge`` uses.  Locks there are left
alone: they are the consumers' business.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from spoolq.errors import SpoolqError
from spoolq.spool.queue import Spool

log = logging.getLogger("spoolq")

TEMPORARY_AGE = 300.0  # seconds; no live writer keeps a temporary this long


class OutputSweep:
    """Sweeps the spools ``spools()`` names, at most once per ``interval`` seconds."""

    def __init__(self, spools: Callable[[], Iterable[Spool]], interval: float, who: str):
        self.spools = spools
        self.interval = interval
        self.who = who
        self._next = 0.0  # the first call sweeps: the previous run may have been killed mid-write

    def maybe(self) -> None:
        """Sweep if due (cheap when not: one clock reading)."""
        if time.monotonic() >= self._next:
            self.sweep()

    def due_in(self) -> float:
        """Seconds until the next sweep is due (0 when it is): how long an idle daemon may sleep."""
        return max(0.0, self._next - time.monotonic())

    def sweep(self) -> int:
        """Sweep every spool now; the temporaries removed."""
        self._next = time.monotonic() + self.interval
        removed = 0
        for spool in self.spools():
            try:
                report = spool.purge(max_temp_age=TEMPORARY_AGE, max_lock_age=0)
            except (OSError, SpoolqError) as exc:
                log.error("%s: cannot sweep %s: %s", self.who, spool.path, exc)
                continue
            if report.temporaries_removed:
                removed += report.temporaries_removed
                log.warning(
                    "%s: removed %d temporar%s a killed writer left in %s",
                    self.who,
                    report.temporaries_removed,
                    "y" if report.temporaries_removed == 1 else "ies",
                    spool.path,
                )
        return removed
