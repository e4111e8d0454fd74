"""The inotify emitters: the only module that speaks to inotify.

:class:`InotifyEmitter` watches a spool for a component (and, through
:mod:`spoolq.watcher.arrivals`, for ``spoolq tail -f``);
:class:`InotifyDropSource` watches a drop box for complete files.

Watches, and why each is needed:

* the spool directory, for new intermediate directories (``IN_CREATE`` or
  ``IN_MOVED_TO`` with ``IN_ISDIR``);
* every intermediate directory, for new elements.  A dirq writer publishes
  with ``link()`` (``IN_CREATE``), spoolq with ``renameat2()`` and a shell
  ``mv`` with ``rename()`` (both ``IN_MOVED_TO``).  A temporary being created
  (``*.tmp``) and a lock (``*.lck``) are not news and are dropped here, by
  their raw name, as cheaply as possible: under load one lock event per
  message handled arrives from our own workers.

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
import struct
import time

from inotify_simple import Event, INotify, flags

from spoolq.spool import layout
from spoolq.watcher.dropbox_sources import files_in, settled_files
from spoolq.watcher.events import RESCAN, Emitter, SpoolEvent

log = logging.getLogger("spoolq.watcher")

_ROOT_MASK = flags.CREATE | flags.MOVED_TO | flags.ONLYDIR
_DIRECTORY_MASK = flags.CREATE | flags.MOVED_TO | flags.ONLYDIR
_NOT_NEWS = tuple(os.fsencode(suffix) for suffix in (layout.TEMPORARY_SUFFIX, layout.LOCKED_SUFFIX))
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len; then the name
_READ_SIZE = 1 << 16  # whole events only; what does not fit stays queued for the next read
_OVERFLOW, _IGNORED, _ISDIR = int(flags.Q_OVERFLOW), int(flags.IGNORED), int(flags.ISDIR)
_DROP_BOX_MASK = flags.CLOSE_WRITE | flags.MOVED_TO | flags.ONLYDIR  # a file complete, or renamed in


class InotifyEmitter(Emitter):
    """Signals for one spool directory; raises ``OSError`` if inotify is unavailable."""

    def __init__(self, spool_path: str, rescan_interval: float = 30.0):
        super().__init__()
        self.path = spool_path
        self.rescan_interval = rescan_interval
        self._inotify = INotify()
        self._directories: dict[int, str] = {}  # watch descriptor -> intermediate directory
        self._root_wd = self._inotify.add_watch(spool_path, _ROOT_MASK)
        self._pending: list[SpoolEvent] = [RESCAN]  # the initial full scan
        self._sync_watches()
        self._next_rescan = time.monotonic() + rescan_interval

    def wait(self, timeout: float | None) -> list[SpoolEvent]:
        if not self._pending:
            until_rescan = max(0.0, self._next_rescan - time.monotonic())
            pause = until_rescan if timeout is None else min(timeout, until_rescan)
            if self._inotify.fileno() in self._block([self._inotify.fileno()], pause):
                self._read_events()
        if time.monotonic() >= self._next_rescan:
            self._sync_watches()
            self._pending.append(RESCAN)
        events, self._pending = self._pending, []
        if RESCAN in events:
            self._next_rescan = time.monotonic() + self.rescan_interval
            return [RESCAN]  # a full rescan covers every other event
        return events

    def _read_events(self) -> None:
        """Read the queued events (poll said there are some) and interpret them.

        Parsed here rather than by ``inotify_simple``: each message a worker
        claims is one ``.lck`` event in the watched directory, and dropping
        those by their raw name, before any object is built for them, is most
        of the dispatcher's work under load.
        """
        data = os.read(self._inotify.fileno(), _READ_SIZE)
        position, end = 0, len(data)
        while position < end:
            wd, mask, cookie, size = _EVENT.unpack_from(data, position)
            position += _EVENT.size + size
            raw_name = data[position - size : position].rstrip(b"\0")
            if not raw_name.endswith(_NOT_NEWS):
                self._interpret(Event(wd, mask, cookie, os.fsdecode(raw_name)))

    def _interpret(self, event: Event) -> None:
        wd, mask, name = event.wd, event.mask, event.name
        if mask & _OVERFLOW:
            log.warning("%s: inotify queue overflowed; rescanning everything", self.path)
            self._sync_watches()
            self._pending.append(RESCAN)
        elif mask & _IGNORED:
            self._directories.pop(wd, None)
        elif wd == self._root_wd:
            if mask & _ISDIR and layout.is_directory_name(name):
                self._watch_directory(name)
        else:
            directory = self._directories.get(wd)
            if directory is not None and not mask & _ISDIR:
                self._pending.append(SpoolEvent("element", directory, name))

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
        self._pending.append(SpoolEvent("directory", directory))

    def close(self) -> None:
        if not self.closed:
            self._inotify.close()
        super().close()


class InotifyDropSource(Emitter):
    """Names closed after writing or renamed in; every file present at start and at rescans."""

    def __init__(self, path: str, rescan_interval: float = 30.0, settle: float = 0.0):
        super().__init__()
        self.path = path
        self.rescan_interval = rescan_interval
        # A file found by a listing (not by its close or rename) is taken only once it has
        # not been written for ``settle`` seconds: a writer may still hold it open.
        self.settle = settle
        self._inotify = INotify()
        self._inotify.add_watch(path, _DROP_BOX_MASK)  # before the first listing: nothing slips between
        self._next_rescan = 0.0

    def wait(self, timeout: float | None) -> list[str]:
        now = time.monotonic()
        if now >= self._next_rescan:
            self._next_rescan = now + self.rescan_interval
            if self.settle <= 0:
                return files_in(self.path)
            names, young = settled_files(self.path, self.settle)
            if young:  # look again once they may have settled
                self._next_rescan = min(self._next_rescan, now + self.settle)
            return names
        pause = self._next_rescan - now if timeout is None else min(timeout, self._next_rescan - now)
        fd = self._inotify.fileno()
        if fd not in self._block([fd], pause):
            return []
        names = []
        for event in self._inotify.read(timeout=0):
            if event.mask & flags.Q_OVERFLOW:
                self._next_rescan = 0.0
            elif not event.mask & flags.ISDIR and event.name:
                names.append(event.name)
        return names

    def close(self) -> None:
        if not self.closed:
            self._inotify.close()
        super().close()
