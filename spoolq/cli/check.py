"""``spoolq check``: is the configuration sound enough for ``spoolq run`` to start it?

A typo in a handler's module name passes the file's own validation (the name
is a well-formed string) and shows only when the component's process starts
and dies, again and again, under the supervisor's restarts.  ``check`` finds
it first: it reads the file as ``run`` does, validates every enabled
shipper's tables and finds its kind, and loads every enabled component's
handlers (imports their modules and constructs them, without ``setup``),
reporting every problem, one line each.

``spoolq run`` runs this check in a child process of its own before it
starts anything and before it applies a reloaded configuration: handler
modules are user code, and importing them into the supervisor would keep
them loaded (a later reload would check the old code) and run their
constructors in a process that lives for months.
"""

from __future__ import annotations

import os
import subprocess
import sys

import click

from spoolq.cli import exit_codes
from spoolq.cli.group import main
from spoolq.cli.settings import Settings
from spoolq.config import Config
from spoolq.config.source import CONFIG_FD_ENV, hand_down
from spoolq.daemon.run_plan import SHIPPER, ChildSpec, counted, planned_children
from spoolq.daemon.self_command import SPOOLQ_COMMAND
from spoolq.errors import ConfigError, SpoolqError
from spoolq.handlers.registry import component_handlers
from spoolq.shippers.registry import shipper_class

#: Longest a check in a child process may take (importing handler modules included).
CHECK_SECONDS = 120.0


def configuration_problems(config: Config) -> tuple[list[str], list[ChildSpec]]:
    """Every problem that would stop ``spoolq run`` from starting ``config``, and what it would run."""
    problems: list[str] = []
    try:
        children = planned_children(config)
    except ConfigError as exc:  # a shipper's tables
        problems.append(str(exc))
        children = []
    for component in config.enabled_components():
        try:
            component_handlers(component, config.path)
        except SpoolqError as exc:
            problems.append(str(exc))
    for child in children:
        if child.family == SHIPPER:
            try:
                shipper_class(child.settings[0].kind)
            except SpoolqError as exc:
                problems.append(f"{config.path}: shippers.{child.name}: {exc}")
    return problems, children


@main.command()
@click.pass_obj
def check(settings: Settings) -> None:
    """Check the configuration as `spoolq run` would start it: its tables and every handler.

    Prints what would run and exits 0, or prints each problem on stderr and
    exits 4.
    """
    config = settings.config  # an invalid file fails here, with its one line
    settings.root(existing=False)  # and so does a missing spool root
    problems, children = configuration_problems(config)
    for problem in problems:
        click.echo(f"spoolq: error: {problem}", err=True)
    if problems:
        sys.exit(exit_codes.CONFIG)
    click.echo(f"{config.path or 'no configuration file'}: {counted(children)}, every handler loads")


def check_in_child(config: Config, root: str) -> None:
    """``spoolq check`` of ``config`` in a process of its own; :class:`ConfigError` with its problems.

    The child checks the very bytes ``config`` was loaded from (spoolq.config.source).
    """
    assert config.path is not None and config.source is not None
    command = [*SPOOLQ_COMMAND, "-c", config.path, "--root", root, "check"]
    fd = hand_down(config.source)
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=CHECK_SECONDS,
            env={**os.environ, CONFIG_FD_ENV: str(fd)},
            pass_fds=(fd,),
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(f"{config.path}: checking the handlers took over {CHECK_SECONDS:g} s") from None
    finally:
        os.close(fd)
    if result.returncode != 0:
        lines = [line.removeprefix("spoolq: error: ") for line in result.stderr.splitlines() if line.strip()]
        status = f"{config.path}: the check exited with status {result.returncode}"
        raise ConfigError("; ".join(lines) or status)
