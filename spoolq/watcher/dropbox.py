"""The drop box: a plain directory where any program drops a file under any name.

Each *complete* file is adopted into the spool by one rename (``Spool.adopt``;
the drop box must be on the spool's filesystem).  A file counts as complete
when it

* arrived by rename into the directory (``IN_MOVED_TO``: ``mv``, or write
  ``x.tmp`` then rename), or
* was closed after being opened for writing (``IN_CLOSE_WRITE``: ``cp``,
  ``echo > file``, any program that writes then closes).

Names starting with ``.`` or ending in ``.tmp`` or ``.part`` are ignored until
renamed to a name that is not.  At start (and on every rescan) files already
there are adopted too: they were complete before we looked, or they are
dropped again by their writer's close.  With polling (``poll``), a file is
adopted once its size and modification time have not changed for one poll
interval.  Subdirectories are left alone.

With ``settle`` (seconds), a file found by a listing rather than by its close
or rename is adopted only once it has not been written for that long: one
still being written when the drop box starts is not taken half-written (the
shipper of an APEL SSM ``path_type = directory`` store sets it).
"""

from __future__ import annotations

import logging
import os
import threading

from spoolq.errors import SpoolqError
from spoolq.spool import Spool
from spoolq.watcher.events import Emitter

log = logging.getLogger("spoolq.dropbox")
_INCOMPLETE_SUFFIXES = (".tmp", ".part")


def is_candidate(name: str) -> bool:
    """Whether a file of this name may be adopted (not hidden, not a partial)."""
    return not name.startswith(".") and not name.endswith(_INCOMPLETE_SUFFIXES)


class Dropbox:
    """Adopts complete files from ``path`` into ``spool``; :meth:`run` in a thread."""

    def __init__(
        self,
        path: str,
        spool: Spool,
        *,
        poll: bool = False,
        poll_interval: float = 1.0,
        rescan_interval: float = 30.0,
        settle: float = 0.0,
    ):
        self.path = path
        self.spool = spool
        self.ready = threading.Event()
        os.makedirs(path, exist_ok=True)
        self._source = _open_source(path, poll, poll_interval, rescan_interval, settle)
        self._running = True
        self.log_level = logging.DEBUG  # of the line naming each file and the element it became

    def run(self) -> None:
        try:
            while self._running:
                names = self._source.wait(None)
                for name in names:
                    if self._running:
                        self._adopt(name)
                self.ready.set()
        finally:
            self.ready.set()
            self._source.close()

    def stop(self) -> None:
        self._running = False
        self._source.wake()

    def _adopt(self, name: str) -> None:
        if not is_candidate(name):
            return
        path = os.path.join(self.path, name)
        try:
            if not os.path.isfile(path) or os.path.islink(path):
                return
            element = self.spool.adopt(path)
        except FileNotFoundError:
            return  # taken by another watcher of the same drop box
        except SpoolqError as exc:
            if not os.path.exists(path):
                return
            log.error("%s: cannot adopt: %s", path, exc)
            return
        log.log(self.log_level, "%s: adopted as %s/%s", path, self.spool.path, element)


def _open_source(
    path: str, poll: bool, poll_interval: float, rescan_interval: float, settle: float
) -> Emitter:
    if not poll:
        try:
            from spoolq.watcher.inotify import InotifyDropSource

            return InotifyDropSource(path, rescan_interval, settle)
        except OSError as exc:
            log.warning("%s: inotify unavailable (%s); polling", path, exc)
    from spoolq.watcher.dropbox_sources import PollingDropSource

    return PollingDropSource(path, poll_interval)
