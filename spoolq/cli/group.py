"""The ``spoolq`` click group: shared options, and spoolq errors as one line and an exit code.

Shared options: ``--root`` (or ``SPOOLQ_ROOT``, or ``root`` in the
configuration file) and ``--config`` (or ``SPOOLQ_CONFIG``).  Any
:class:`SpoolqError` becomes one line on stderr and a named exit code.
Command modules add their commands to :func:`main`.

A command module is imported only when its command runs (:data:`COMMAND_MODULES`):
``spoolq put`` in a shell loop must not pay for the STOMP client, the X.509
parser and prometheus_client that ``run``, ``ship`` and ``watch`` need.
``spoolq --help`` still lists every command, importing them all.
"""

from __future__ import annotations

import importlib
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


#: Each command's name and the module under ``spoolq.cli`` that defines it: the one
#: place a new command is added (tests/test_cli_startup.py checks it against the modules).
COMMAND_MODULES = {
    "check": "check",
    "config": "config_convert",
    "demo": "demo",
    "discard": "parked",
    "find": "find",
    "init": "spools",
    "ls": "spools",
    "purge": "spools",
    "put": "spools",
    "receive": "ship",
    "replay": "parked",
    "retry": "retry",
    "rm": "spools",
    "run": "run",
    "ship": "ship",
    "show": "spools",
    "stats": "stats",
    "tail": "tail",
    "top": "top",
    "udp-proxy": "udp",
    "watch": "watch",
}


class SpoolqGroup(click.Group):
    """A click group that reports spoolq errors as one clear line, no traceback,
    and imports a command's module only when the command is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMAND_MODULES) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            importlib.import_module(f"spoolq.cli.{module}")  # its decorators add it to this group
        return super().get_command(ctx, cmd_name)

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
