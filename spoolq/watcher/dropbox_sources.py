"""Where the drop box learns of complete files: inotify, or a settling poll.

Both yield file *names* from :meth:`wait`; the drop box decides what to adopt.
"""

from __future__ import annotations

import os
import time

from inotify_simple import INotify, flags

from spoolq.watcher.signals import Emitter

_MASK = flags.CLOSE_WRITE | flags.MOVED_TO | flags.ONLYDIR


def _files(path: str) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(path) if e.is_file(follow_symlinks=False))
    except FileNotFoundError:
        return []


class InotifyDropSource(Emitter):
    """Names closed after writing or renamed in; every file present at start and at rescans."""

    def __init__(self, path: str, rescan_interval: float = 30.0):
        super().__init__()
        self.path = path
        self.rescan_interval = rescan_interval
        self._inotify = INotify()
        self._inotify.add_watch(path, _MASK)  # before the first listing: nothing slips between
        self._next_rescan = 0.0

    def wait(self, timeout: float | None) -> list[str]:
        now = time.monotonic()
        if now >= self._next_rescan:
            self._next_rescan = now + self.rescan_interval
            return _files(self.path)
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


class PollingDropSource(Emitter):
    """Names whose size and mtime did not change over one poll interval."""

    def __init__(self, path: str, interval: float = 1.0):
        super().__init__()
        self.path = path
        self.interval = interval
        self._seen: dict[str, tuple[int, int]] = {}

    def wait(self, timeout: float | None) -> list[str]:
        self._block([], self.interval if timeout is None else min(timeout, self.interval))
        current = {}
        for name in _files(self.path):
            try:
                info = os.stat(os.path.join(self.path, name))
            except FileNotFoundError:
                continue
            current[name] = (info.st_size, info.st_mtime_ns)
        settled = [name for name, state in current.items() if self._seen.get(name) == state]
        self._seen = current
        return settled
