"""The component's own clock: a ``TICK`` into its input spool every ``tick`` seconds.

Handlers such as the Policy Engine and the Migration Dispatcher run only when a
message arrives, yet must notice time passing (a group waiting too long, a
worker gone silent).  With ``tick`` set, the component feeds itself a
``TICK`` (:mod:`spoolq.component.timer`) so that no outside timer is needed.

A new tick is put only once the previous one has left the spool (handled and
acknowledged, or parked): a consumer that is stopped or slow finds at most one
tick waiting, never a pile of them.
"""

from __future__ import annotations

import logging
import threading

from spoolq.component import timer
from spoolq.spool import Spool

log = logging.getLogger("spoolq.component")


class Ticker:
    """Puts a ``TICK`` into ``spool`` every ``interval`` seconds while the last one is gone."""

    def __init__(self, spool: Spool, interval: float):
        self.spool = spool
        self.interval = interval
        self.last: str | None = None  # name of the last tick we put
        self._stop = threading.Event()

    def run(self) -> None:
        """Tick until :meth:`stop`; a failed put is logged and tried again next interval."""
        while not self._stop.wait(self.interval):
            try:
                self.tick_once()
            except Exception as exc:  # disk full, spool removed: keep the component running
                log.warning("%s: tick not put: %s", self.spool.path, exc)

    def tick_once(self) -> str | None:
        """Put a tick unless the last one is still there; its name, or ``None`` when skipped."""
        # A claimed element keeps its name (the lock is a hard link beside it) until it
        # is acknowledged, so a tick being handled also counts as still there.
        if self.last is not None and self.spool.exists(self.last):
            return None
        self.last = self.spool.put(timer.tick())
        return self.last

    def stop(self) -> None:
        self._stop.set()
