"""``spoolq retry``: end the backoff of waiting messages now, for some spools or all (``postqueue -f``).

Each element whose ``not-before`` lies in the future gets it set to the
present, in place (:mod:`spoolq.component.retry_now`: locked, the bytes
otherwise unchanged, renamed over atomically); a running watcher notices the
rewrite and handles it at once.  An element another process holds is left
alone and counted.  Parked messages are not touched: ``spoolq replay`` puts
those back.
"""

from __future__ import annotations

import click

from spoolq.cli.group import main
from spoolq.cli.output import open_spool
from spoolq.cli.settings import Settings
from spoolq.component.retry_now import Outcome, make_due, waiting


@main.command(name="retry")
@click.argument("spools", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every spool of the root.")
@click.option("--dry-run", "-n", is_flag=True, help="List the waiting messages; change nothing.")
@click.pass_obj
def retry_command(settings: Settings, spools: tuple[str, ...], every: bool, dry_run: bool) -> None:
    """Make the messages of SPOOL(s) that wait out a retry backoff due now (or of --all spools)."""
    if bool(spools) == every:
        raise click.UsageError("name the spools to retry, or give --all (not both)")
    root = settings.root()
    names = root.spool_names() if every else list(spools)
    targets = [open_spool(root, name) for name in names]  # every name checked before any change
    for spool in targets:
        counts = dict.fromkeys(Outcome, 0)
        for name in waiting(spool):
            if dry_run:
                click.echo(f"{spool.name}/{name}")
                counts[Outcome.MADE_DUE] += 1
                continue
            outcome = make_due(spool, name)
            counts[outcome] += 1
            if outcome in (Outcome.LOCKED, Outcome.UNEDITABLE):
                click.echo(f"spoolq: {spool.path}/{name}: {outcome.value}; left waiting", err=True)
        verb = "would make" if dry_run else "made"
        line = f"{spool.name}: {verb} {counts[Outcome.MADE_DUE]} waiting message(s) due now"
        skipped = counts[Outcome.LOCKED] + counts[Outcome.UNEDITABLE]
        if skipped:
            line += f", {skipped} left waiting"
        click.echo(line)
