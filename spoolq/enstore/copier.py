"""The ``encp`` stand-in: copy a file to or from the archive with a configurable command.

``command`` is an argv list whose items may contain ``{src}`` and ``{dst}``,
e.g. ``["cp", "{src}", "{dst}"]``; it is run without a shell, so file names
are never interpreted.  ``None`` copies in Python.  The caller always copies
to a temporary name and renames, so a copy killed half-way never counts.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence

from spoolq.errors import SpoolqError


class CopyError(SpoolqError):
    """The copy command failed; the text carries its exit status and stderr."""


def copy_file(src: str, dst: str, command: Sequence[str] | None = None, timeout: float = 600) -> None:
    """Copy ``src`` to ``dst`` with ``command`` (argv template) or in Python."""
    if not command:
        shutil.copyfile(src, dst)
        return
    argv = [part.format(src=src, dst=dst) for part in command]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CopyError(f"copy command {argv[0]!r} failed: {exc}") from None
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace").strip()[:200]
        raise CopyError(f"copy command {argv[0]!r} exited {done.returncode}: {stderr}")
