"""Noticing new elements: emitters that turn filesystem activity into events.

The split follows watchdog: an *emitter* reads the operating system (inotify,
or a polling loop where inotify is unavailable or not wanted, e.g. on NFS) and
yields :class:`SpoolEvent` values; the component's dispatcher decides what to do
with them.  Raw inotify handling lives only in :mod:`spoolq.watcher.inotify`.
"""

from __future__ import annotations

import logging

from spoolq.watcher.events import Emitter, SpoolEvent
from spoolq.watcher.polling import PollingEmitter

log = logging.getLogger("spoolq.watcher")


def make_emitter(
    spool_path: str,
    *,
    poll: bool = False,
    poll_interval: float = 1.0,
    rescan_interval: float = 30.0,
) -> Emitter:
    """An inotify emitter for ``spool_path``, or a polling one when asked or needed."""
    if not poll:
        try:
            from spoolq.watcher.inotify import InotifyEmitter

            return InotifyEmitter(spool_path, rescan_interval=rescan_interval)
        except OSError as exc:  # no inotify here (or out of instances): poll instead
            log.warning("%s: inotify unavailable (%s); polling every %.1f s", spool_path, exc, poll_interval)
    return PollingEmitter(spool_path, interval=poll_interval)


__all__ = ["Emitter", "PollingEmitter", "SpoolEvent", "make_emitter"]
