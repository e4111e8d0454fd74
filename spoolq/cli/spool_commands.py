"""Operator commands on spools: init, put, ls, show, stats, purge, rm, replay, tail."""

from __future__ import annotations

import click

from spoolq.cli import main
from spoolq.cli.settings import Settings


@main.command()
@click.argument("spools", nargs=-1, required=True)
@click.pass_obj
def init(settings: Settings, spools: tuple[str, ...]) -> None:
    """Create the spool root and the named spools in it."""
    root = settings.root()
    for name in spools:
        root.spool(name)
        click.echo(f"{root.path}/{name}")
