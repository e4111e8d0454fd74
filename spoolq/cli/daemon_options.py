"""Options shared by the daemon commands (``run``, ``watch``): how they log.

Use as a decorator under ``@main.command()`` and call
``spoolq.daemon.logs.configure_logging(json=log_json, level=log_level)`` first thing.
"""

from __future__ import annotations

import click

from spoolq.daemon.logs import LEVELS


def log_options(command):
    """``--log-json`` and ``--log-level``, shared by the daemon commands."""
    command = click.option(
        "--log-level",
        type=click.Choice(LEVELS, case_sensitive=False),
        envvar="SPOOLQ_LOG_LEVEL",
        default="info",
        show_default=True,
        help="Least severe level logged [env SPOOLQ_LOG_LEVEL].",
    )(command)
    return click.option(
        "--log-json",
        is_flag=True,
        envvar="SPOOLQ_LOG_JSON",
        help="Log one JSON object per line instead of plain lines [env SPOOLQ_LOG_JSON].",
    )(command)
