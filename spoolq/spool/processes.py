"""Whether a process of this machine lives: the one check behind every "is its writer gone?".

Lock holders, owners of metrics files' temporaries, shippers' status files and
the test hosts' namespaces all name a pid; each asks this before it treats what
the pid left as debris.
"""

from __future__ import annotations

import os


def alive(pid: object) -> bool:
    """Whether process ``pid`` exists; anything but a positive int is no process.

    Another user's process counts as alive: ``kill(pid, 0)`` then fails with
    EPERM, which says the pid is taken.
    """
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
