"""The ``spoolq`` command: one click group (:mod:`spoolq.cli.group`); each command family in its own module.

The group imports a command's module when the command is first asked for
(:data:`spoolq.cli.group.COMMAND_MODULES`), so a command pays only for what it uses.
"""

from spoolq.cli.group import main

__all__ = ["main"]
