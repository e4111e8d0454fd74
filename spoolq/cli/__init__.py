"""The ``spoolq`` command: one click group (:mod:`spoolq.cli.group`); each command family in its own module.

Importing this package registers every command on the group.
"""

from spoolq.cli import (  # noqa: F401  (commands register themselves)
    check,
    config_convert,
    demo,
    find,
    parked,
    retry,
    run,
    ship,
    spools,
    stats,
    tail,
    top,
    udp,
    watch,
)
from spoolq.cli.group import main

__all__ = ["main"]
