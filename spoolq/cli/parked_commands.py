"""``spoolq replay``: put parked messages back into the spool they came from.

The original bytes go back unchanged (see :func:`spoolq.parking.replay`); the
parked copy is removed only once the original is back, so an interrupted
replay may leave a message in both places, never in neither.
"""

from __future__ import annotations

import sys

import click

from spoolq.cli import main
from spoolq.cli.output import age_of, open_parked, open_spool
from spoolq.cli.settings import Settings
from spoolq.parking import ParkedMessage, iter_parked, replay


def _selector(
    types: tuple[str, ...], older_than: float | None, ids: tuple[str, ...], reasons: tuple[str, ...]
):
    """A predicate over parked messages; each given filter must match (one of its values, if repeated)."""

    def select(parked: ParkedMessage) -> bool:
        if types and parked.type not in types:
            return False
        if older_than is not None and age_of(parked.parked_at) < older_than:
            return False
        if reasons and not any(text in parked.reason for text in reasons):
            return False
        return not ids or bool({parked.name, parked.message_id} & set(ids))

    return select


@main.command(name="replay")
@click.argument("spool")
@click.option("--type", "-t", "types", multiple=True, help="Only messages of this type; repeatable.")
@click.option("--older-than", type=float, metavar="SECONDS", help="Only messages parked this long ago.")
@click.option("--id", "ids", multiple=True, help="Only this parked element or message-id; repeatable.")
@click.option(
    "--reason",
    "reasons",
    multiple=True,
    metavar="TEXT",
    help="Only messages whose parking reason contains TEXT; repeatable.",
)
@click.option("--dry-run", "-n", is_flag=True, help="Print what would be replayed; move nothing.")
@click.pass_obj
def replay_command(
    settings: Settings,
    spool: str,
    types: tuple[str, ...],
    older_than: float | None,
    ids: tuple[str, ...],
    reasons: tuple[str, ...],
    dry_run: bool,
) -> None:
    """Move parked messages of SPOOL back into SPOOL (progress on stderr)."""
    root = settings.root()
    open_spool(root, spool)
    if open_parked(root, spool) is None:
        click.echo("nothing to replay", err=True)
        return
    select = _selector(types, older_than, ids, reasons)
    selected = [parked for parked in iter_parked(root, spool) if select(parked)]
    if not selected:
        click.echo("nothing to replay", err=True)
        return
    if dry_run:
        for parked in selected:
            reason = parked.reason.splitlines()[0] if parked.reason else ""
            click.echo(f"{parked.name}  {parked.type or '-'}  {reason}")
        click.echo(f"would replay {len(selected)} message(s) into {spool}")
        return
    chosen = {parked.name for parked in selected}
    done = 0
    with click.progressbar(length=len(chosen), label=f"replaying {spool}", file=sys.stderr) as bar:
        for _parked in replay(root, spool, lambda parked: parked.name in chosen):
            done += 1
            bar.update(1)
    click.echo(f"replayed {done} message(s) into {spool}")
