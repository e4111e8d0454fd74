"""The polling emitter: a full rescan every ``interval`` seconds (NFS, no inotify)."""

from __future__ import annotations

import time

from spoolq.watcher.events import RESCAN, Emitter, SpoolEvent


class PollingEmitter(Emitter):
    """Reports a rescan at once, then every ``interval`` seconds; sleeps in between."""

    def __init__(self, spool_path: str, interval: float = 1.0):
        super().__init__()
        self.path = spool_path
        self.interval = interval
        self._next = time.monotonic()  # the first wait reports the initial scan

    def wait(self, timeout: float | None) -> list[SpoolEvent]:
        now = time.monotonic()
        if now < self._next:
            pause = self._next - now if timeout is None else min(timeout, self._next - now)
            self._block([], pause)
            if time.monotonic() < self._next:
                return []  # woken early or our caller's timeout came first
        self._next = time.monotonic() + self.interval
        return [RESCAN]
