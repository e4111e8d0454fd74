"""Where the drop box learns of complete files: inotify, or a settling poll.

Both yield file *names* from :meth:`wait`; the drop box decides what to adopt.
The inotify source lives with every other inotify use, in
:mod:`spoolq.watcher.inotify`; the settling poll is here.
"""

from __future__ import annotations

import os
import time

from spoolq.watcher.events import Emitter


def files_in(path: str) -> list[str]:
    """The regular files of ``path``, sorted; none when it is gone."""
    try:
        return sorted(e.name for e in os.scandir(path) if e.is_file(follow_symlinks=False))
    except FileNotFoundError:
        return []


def settled_files(path: str, settle: float) -> tuple[list[str], bool]:
    """The regular files of ``path`` not written for ``settle`` seconds, and whether any others were seen."""
    limit = time.time() - settle
    names, young = [], False
    for name in files_in(path):
        try:
            written = os.stat(os.path.join(path, name)).st_mtime
        except FileNotFoundError:
            continue
        if written <= limit:
            names.append(name)
        else:
            young = True
    return names, young


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
        for name in files_in(self.path):
            try:
                info = os.stat(os.path.join(self.path, name))
            except FileNotFoundError:
                continue
            current[name] = (info.st_size, info.st_mtime_ns)
        settled = [name for name, state in current.items() if self._seen.get(name) == state]
        self._seen = current
        return settled
