"""New elements of a spool, each reported once, for a reader that never claims: ``spoolq tail -f``.

:class:`ElementArrivals` turns the events of the component's own emitter
(:func:`spoolq.watcher.make_emitter`: the same inotify watches, the same full
rescan after a queue overflow and every ``rescan_interval``, polling where
inotify is unavailable) into element names.  A name is reported once: the
set of names seen is kept, and trimmed to what still exists at each rescan,
so it stays as small as the spool.
"""

from __future__ import annotations

import os

from spoolq.spool import Spool
from spoolq.spool.layout import element_names, is_element_name
from spoolq.watcher import make_emitter


class ElementArrivals:
    """Reports element names of ``spool`` once each, oldest first, as they appear."""

    def __init__(self, spool: Spool, rescan_interval: float = 30.0):
        self.spool = spool
        self._emitter = make_emitter(spool.path, rescan_interval=rescan_interval)
        # Watches first, then the listing: an element published in between is
        # both listed and announced, and ``seen`` drops the second report.
        self.seen = set(spool.names())

    def arrivals(self, timeout: float) -> list[str]:
        """New element names (oldest first), waiting up to ``timeout`` seconds for one."""
        candidates: set[str] = set()
        for event in self._emitter.wait(timeout):
            if event.kind == "element" and event.name and is_element_name(event.name):
                candidates.add(f"{event.directory}/{event.name}")
            elif event.kind == "directory" and event.directory:
                candidates.update(self._names_in(event.directory))
            elif event.kind == "rescan":
                current = set(self.spool.names())
                self.seen &= current  # forget consumed elements, so that ``seen`` stays small
                candidates.update(current)
        new = sorted(candidates - self.seen)
        self.seen.update(new)
        return new

    def _names_in(self, directory: str) -> list[str]:
        try:
            entries = os.listdir(f"{self.spool.path}/{directory}")
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [f"{directory}/{e}" for e in element_names(entries)]

    def close(self) -> None:
        self._emitter.close()
