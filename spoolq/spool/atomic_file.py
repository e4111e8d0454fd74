"""Replacing a small file so that a reader sees the old content or the new, never part of either.

The one way spoolq writes its own state, status, metrics and cache files: a
temporary beside the target (``mkstemp``: a fresh name, mode 0600 from the
first instant, so a secret is never readable by others), written, fsynced
when ``durable``, given its final ``mode``, then renamed over the target.  A
failure removes the temporary and leaves the old file as it was.
"""

from __future__ import annotations

import os
import tempfile


def write_atomically(
    path: str | os.PathLike, data: bytes | str, *, durable: bool = True, mode: int = 0o644
) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8); make its directory if missing."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        if mode != 0o600:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
