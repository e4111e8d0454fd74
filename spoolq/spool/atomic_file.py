"""Replacing a small file so that a reader sees the old content or the new, never part of either.

The one way spoolq writes its own state, status, metrics and cache files: a
temporary beside the target, written, fsynced when ``durable``, then renamed
over the target.  A failure removes the temporary and leaves the old file as
it was.

Its mode is the one any new file gets, 0666 less the umask, so state and
metrics follow the daemon's ``umask`` as its spools do (``UMask=0027``: no
bits for others).  A file given a ``mode`` (a secret: 0600) is made with
``mkstemp``, 0600 from the first instant, then given that mode.
"""

from __future__ import annotations

import os
import tempfile


def write_atomically(
    path: str | os.PathLike, data: bytes | str, *, durable: bool = True, mode: int | None = None
) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8); make its directory if missing.

    ``mode``: the file's mode; ``None`` for the umask's (see the module's docstring).
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    if mode is None:
        fd, temporary = _temporary_as_umask_gives(directory)
    else:
        fd, temporary = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        if mode is not None and mode != 0o600:
            os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _temporary_as_umask_gives(directory: str) -> tuple[int, str]:
    """A new ``.XXXX.tmp`` in ``directory``, opened for writing, its mode 0666 less the umask."""
    for _attempt in range(8):
        temporary = os.path.join(directory, f".{os.urandom(6).hex()}.tmp")
        try:
            return os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666), temporary
        except FileExistsError:
            continue
    raise FileExistsError(f"{directory}: no free temporary name after 8 attempts")
