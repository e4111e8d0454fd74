"""Whose temporary is this: names that carry their writer's process, so that a purge can tell.

A ``.tmp`` file or a ``.batch-*`` staging directory is never seen by readers;
one left behind by a writer that died (``kill -9`` mid-batch) would only use
space until a purge removes it for its age.  Its name carries a *writer tag*,
``<boot>-<pid>-<start>``: the first 8 hex digits of the kernel's boot id, the
writer's process id and its start time in clock ticks since boot
(``/proc/<pid>/stat``).  On the same host and boot, a tag whose process is
gone, or whose pid now belongs to a process started at another time, names a
dead writer: its temporaries can be removed at once, whatever their age.  A
tag from another host (a spool shared over NFS) or another boot proves
nothing here; its temporaries wait for the age limit as before.
"""

from __future__ import annotations

import os
import re

_BOOT_ID = "/proc/sys/kernel/random/boot_id"
_TAG = re.compile(r"([0-9a-f]{8})-([0-9]+)-([0-9]+)")


def _read_boot() -> str | None:
    try:
        with open(_BOOT_ID) as handle:
            return handle.read().strip().replace("-", "")[:8] or None
    except OSError:
        return None


def _start_time(pid: int) -> int | None:
    """The start time of process ``pid`` in clock ticks since boot; ``None`` when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    except OSError:
        return -1  # cannot look (hidepid): treat as alive
    fields = stat[stat.rfind(b")") + 2 :].split()
    try:
        return int(fields[19])  # field 22 of the line; the name and pid come before the ")"
    except (IndexError, ValueError):
        return -1


_boot = _read_boot()
_tag_pid = 0
_tag = ""


def writer_tag() -> str:
    """This process's tag (worked out again after a fork); empty where /proc cannot tell."""
    global _tag_pid, _tag
    pid = os.getpid()
    if pid != _tag_pid:
        start = _start_time(pid)
        _tag = f"{_boot}-{pid}-{start}" if _boot and start is not None and start >= 0 else ""
        _tag_pid = pid
    return _tag


def find_tag(name: str) -> str | None:
    """The writer tag inside a temporary's name, if it carries one."""
    match = _TAG.search(name)
    return match.group(0) if match else None


def writer_is_gone(name: str) -> bool:
    """Whether the temporary ``name`` provably belongs to a writer process that has ended.

    ``False`` whenever that cannot be proved: no tag, another host or boot,
    or a live process of that pid and start time.
    """
    match = _TAG.search(name)
    if match is None or _boot is None or match.group(1) != _boot:
        return False
    pid, start = int(match.group(2)), int(match.group(3))
    now = _start_time(pid)
    return now is None or (now >= 0 and now != start)
