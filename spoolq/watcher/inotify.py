"""The inotify emitter: the only module that speaks to inotify.

Watches, and why each is needed:

* the spool directory, for new intermediate directories (``IN_CREATE`` or
  ``IN_MOVED_TO`` with ``IN_ISDIR``);
* every intermediate directory, for new elements.  A dirq writer publishes
  with ``link()`` (``IN_CREATE``), spoolq with ``renameat2()`` and a shell
  ``mv`` with ``rename()`` (both ``IN_MOVED_TO``).  A temporary being created
  (``*.tmp``) and a lock (``*.lck``) are not news and are dropped here.

Races and failures it covers:

* an element may land in a new directory *before* our watch on it exists, so
  every freshly watched directory is reported for a listing right after
  ``add_watch``;
* ``IN_Q_OVERFLOW`` means events were lost: re-sync the watches, rescan all;
* ``IN_IGNORED`` (a directory was removed, e.g. by a purge) drops the watch;
* a full rescan is reported every ``rescan_interval`` seconds anyway, so no
  failure mode of the above can leave an element unseen for long.
"""

from __future__ import annotations

import errno
import logging
import os
import time

from inotify_simple import INotify, flags

from spoolq import layout
from spoolq.watcher.signals import RESCAN, Emitter, Signal

log = logging.getLogger("spoolq.watcher")

_ROOT_MASK = flags.CREATE | flags.MOVED_TO | flags.ONLYDIR
_DIRECTORY_MASK = flags.CREATE | flags.MOVED_TO | flags.ONLYDIR
_NOT_NEWS = (layout.TEMPORARY_SUFFIX, layout.LOCKED_SUFFIX)


class InotifyEmitter(Emitter):
    """Signals for one spool directory; raises ``OSError`` if inotify is unavailable."""

    def __init__(self, spool_path: str, rescan_interval: float = 30.0):
        super().__init__()
        self.path = spool_path
        self.rescan_interval = rescan_interval
        self._inotify = INotify()
        self._directories: dict[int, str] = {}  # watch descriptor -> intermediate directory
        self._root_wd = self._inotify.add_watch(spool_path, _ROOT_MASK)
        self._pending: list[Signal] = [RESCAN]  # the initial full scan
        self._sync_watches()
        self._next_rescan = time.monotonic() + rescan_interval

    def wait(self, timeout: float | None) -> list[Signal]:
        if not self._pending:
            until_rescan = max(0.0, self._next_rescan - time.monotonic())
            pause = until_rescan if timeout is None else min(timeout, until_rescan)
            if self._inotify.fileno() in self._block([self._inotify.fileno()], pause):
                for event in self._inotify.read(timeout=0):
                    self._interpret(event)
        if time.monotonic() >= self._next_rescan:
            self._sync_watches()
            self._pending.append(RESCAN)
        signals, self._pending = self._pending, []
        if RESCAN in signals:
            self._next_rescan = time.monotonic() + self.rescan_interval
            return [RESCAN]  # a full rescan covers every other signal
        return signals

    def _interpret(self, event) -> None:
        mask = event.mask
        if mask & flags.Q_OVERFLOW:
            log.warning("%s: inotify queue overflowed; rescanning everything", self.path)
            self._sync_watches()
            self._pending.append(RESCAN)
        elif mask & flags.IGNORED:
            self._directories.pop(event.wd, None)
        elif event.wd == self._root_wd:
            if mask & flags.ISDIR and layout.is_directory_name(event.name):
                self._watch_directory(event.name)
        else:
            directory = self._directories.get(event.wd)
            if directory is not None and not mask & flags.ISDIR and not event.name.endswith(_NOT_NEWS):
                self._pending.append(Signal("element", directory, event.name))

    def _sync_watches(self) -> None:
        """Watch every intermediate directory not yet watched."""
        try:
            entries = os.listdir(self.path)
        except FileNotFoundError:
            log.error("%s: spool directory is gone", self.path)
            return
        watched = set(self._directories.values())
        for directory in sorted(entries):
            if layout.is_directory_name(directory) and directory not in watched:
                self._watch_directory(directory)

    def _watch_directory(self, directory: str) -> None:
        try:
            wd = self._inotify.add_watch(f"{self.path}/{directory}", _DIRECTORY_MASK)
        except FileNotFoundError:
            return  # removed meanwhile (a purge)
        except NotADirectoryError:
            return
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
            log.warning("%s/%s: out of inotify watches; relying on rescans", self.path, directory)
            return
        self._directories[wd] = directory
        # Elements may have landed before the watch existed: list it now.
        self._pending.append(Signal("directory", directory))

    def close(self) -> None:
        if not self.closed:
            self._inotify.close()
        super().close()
