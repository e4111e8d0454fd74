"""The ``spoolq`` click group: shared options, and spoolq errors as one line and an exit code.

Shared options: ``--root`` (or ``SPOOLQ_ROOT``, or ``root`` in the
configuration file) and ``--config`` (or ``SPOOLQ_CONFIG``).  Any
:class:`SpoolqError` becomes one line on stderr and a named exit code.
Command modules add their commands to :func:`main`.
"""

from __future__ import annotations

import sys

import click

from spoolq import __version__
from spoolq.cli import exit_codes
from spoolq.cli.settings import Settings
from spoolq.errors import ConfigError, ElementNotFound, MalformedMessage, SpoolqError

_EXIT_CODES = (
    (ConfigError, exit_codes.CONFIG),
    (ElementNotFound, exit_codes.NOT_FOUND),
    (MalformedMessage, exit_codes.MALFORMED),
)


class SpoolqGroup(click.Group):
    """A click group that reports spoolq errors as one clear line, no traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SpoolqError as exc:
            click.echo(f"spoolq: error: {exc}", err=True)
            code = next((c for kind, c in _EXIT_CODES if isinstance(exc, kind)), exit_codes.FAILURE)
            sys.exit(code)
        except BrokenPipeError:
            sys.exit(exit_codes.OK)  # `spoolq ls | head` is not an error


@click.group(cls=SpoolqGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--root",
    envvar="SPOOLQ_ROOT",
    type=click.Path(file_okay=False),
    help="Spool root directory [env SPOOLQ_ROOT; else 'root' in the configuration].",
)
@click.option(
    "--config",
    "-c",
    "config_path",
    envvar="SPOOLQ_CONFIG",
    type=click.Path(dir_okay=False),
    help="Configuration file [env SPOOLQ_CONFIG; else ./spoolq.toml, /etc/spoolq/spoolq.toml].",
)
@click.version_option(__version__, prog_name="spoolq")
@click.pass_context
def main(ctx: click.Context, root: str | None, config_path: str | None) -> None:
    """spoolq: filesystem message spooler."""
    ctx.obj = Settings(root_option=root, config_option=config_path)
