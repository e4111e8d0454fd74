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


def _selector(types: tuple[str, ...], older_than: float | None, ids: tuple[str, ...]):
    """A predicate over parked messages; each given filter must match."""

    def select(parked: ParkedMessage) -> bool:
        if types and parked.type not in types:
            return False
        if older_than is not None and age_of(parked.parked_at) < older_than:
            return False
        return not ids or bool({parked.name, parked.message_id} & set(ids))

    return select


@main.command(name="replay")
@click.argument("spool")
@click.option("--type", "-t", "types", multiple=True, help="Only messages of this type; repeatable.")
@click.option("--older-than", type=float, metavar="SECONDS", help="Only messages parked this long ago.")
@click.option("--id", "ids", multiple=True, help="Only this parked element or message-id; repeatable.")
@click.pass_obj
def replay_command(
    settings: Settings, spool: str, types: tuple[str, ...], older_than: float | None, ids: tuple[str, ...]
) -> None:
    """Move parked messages of SPOOL back into SPOOL (progress on stderr)."""
    root = settings.root()
    open_spool(root, spool)
    if open_parked(root, spool) is None:
        click.echo("nothing to replay", err=True)
        return
    select = _selector(types, older_than, ids)
    chosen = {parked.name for parked in iter_parked(root, spool) if select(parked)}
    if not chosen:
        click.echo("nothing to replay", err=True)
        return
    done = 0
    with click.progressbar(length=len(chosen), label=f"replaying {spool}", file=sys.stderr) as bar:
        for _parked in replay(root, spool, lambda parked: parked.name in chosen):
            done += 1
            bar.update(1)
    click.echo(f"replayed {done} message(s) into {spool}")
