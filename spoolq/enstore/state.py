"""A component's persistent state: one JSON file under ``ROOT/.state/``, replaced atomically.

The Policy Engine and the Migration Dispatcher each keep their pending work
here and save it *before* the message that changed it is acknowledged, so a
restart forgets nothing (at worst a message is handled twice, and the handlers
are written to make that harmless).

Two processes may serve one component's spools (``md`` and ``md_reply``), so
each change happens under an exclusive ``flock`` on ``NAME.json.lock`` and the
file is re-read when another process has replaced it since our last look.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from typing import Any

from spoolq.errors import SpoolError
from spoolq.spool.atomic_file import write_atomically

STATE_DIR = ".state"


class StateFile:
    """The state of component ``name`` in spool root directory ``root_path``."""

    def __init__(self, root_path: str | os.PathLike, name: str, *, durable: bool = True):
        directory = os.path.join(os.fspath(root_path), STATE_DIR)
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, f"{name}.json")
        self.durable = durable
        self._data: dict[str, Any] | None = None
        self._seen: tuple[int, int] | None = None  # (inode, mtime_ns) of what we read
        # flock excludes other processes; threads sharing this object (a component
        # with several workers) share the descriptor, so they also take this lock.
        self._thread_lock = threading.Lock()
        self._lock_file = open(self.path + ".lock", "a")  # noqa: SIM115  (held for our lifetime)

    @contextlib.contextmanager
    def change(self) -> Iterator[dict[str, Any]]:
        """Lock, yield the current state for changing, save it on normal exit."""
        with self._thread_lock:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX)
            try:
                data = self.load()
                try:
                    yield data
                except BaseException:
                    self._data = self._seen = None  # drop half-made changes: re-read next time
                    raise
                self.save(data)
            finally:
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    def close(self) -> None:
        """Let go of the lock file (the handler's ``teardown``)."""
        self._lock_file.close()

    def __del__(self) -> None:
        lock_file = getattr(self, "_lock_file", None)
        if lock_file is not None:
            lock_file.close()

    def load(self) -> dict[str, Any]:
        """The state as last saved by anyone (``{}`` when there is none yet)."""
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            if self._data is None:
                self._data = {}
            return self._data
        stamp = (info.st_ino, info.st_mtime_ns)
        if self._data is None or stamp != self._seen:
            try:
                with open(self.path, encoding="utf-8") as handle:
                    self._data = json.load(handle)
            except (OSError, ValueError) as exc:
                raise SpoolError(f"{self.path}: cannot read state: {exc}") from None
            self._seen = stamp
        return self._data

    def save(self, data: dict[str, Any]) -> None:
        """Write ``data`` to a temporary file and rename it over the state file."""
        # dumps, not dump: json.dump encodes in Python, many times slower on big states
        write_atomically(self.path, json.dumps(data, separators=(",", ":")), durable=self.durable)
        info = os.stat(self.path)
        self._data, self._seen = data, (info.st_ino, info.st_mtime_ns)
