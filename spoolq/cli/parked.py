"""``spoolq replay`` and ``spoolq discard``: what to do with parked messages, chosen by filters.

``replay`` puts the original bytes back unchanged (see :func:`spoolq.spool.parking.replay`);
the parked copy is removed only once the original is back, so an interrupted
replay may leave a message in both places, never in neither.  ``discard``
deletes parked messages nobody wants back (a producer's garbage, a retired
message type), and asks for a filter or ``--all``: deleting is for good.
Both take the same filters, and ``--dry-run`` to see what they would touch
(``ls --parked`` and ``show --parked`` read the parked messages themselves).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

import click

from spoolq.cli.group import main
from spoolq.cli.output import age_of, open_parked, open_spool
from spoolq.cli.settings import Settings
from spoolq.spool import SpoolRoot
from spoolq.spool.parking import ParkedMessage, discard, iter_parked, replay


@dataclass(frozen=True)
class ParkedFilter:
    """Which parked messages a command touches: each given filter must match (any of its values)."""

    types: tuple[str, ...] = ()
    older_than: float | None = None
    ids: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()

    @property
    def given(self) -> bool:
        return bool(self.types or self.older_than is not None or self.ids or self.reasons)

    def __call__(self, parked: ParkedMessage) -> bool:
        if self.types and parked.type not in self.types:
            return False
        if self.older_than is not None and age_of(parked.parked_at) < self.older_than:
            return False
        if self.reasons and not any(text in parked.reason for text in self.reasons):
            return False
        return not self.ids or any(parked.known_as(ident) for ident in self.ids)


def parked_filter_options(command: Callable) -> Callable:
    """The filter options (keyword arguments of :class:`ParkedFilter`) and ``--dry-run``."""

    options = [
        click.option("--dry-run", "-n", is_flag=True, help="Print what would be done; change nothing."),
        click.option("--type", "-t", "types", multiple=True, help="Only messages of this type; repeatable."),
        click.option(
            "--older-than", type=float, metavar="SECONDS", help="Only messages parked this long ago."
        ),
        click.option(
            "--id",
            "ids",
            multiple=True,
            help="Only this parked element, original element (as logged) or message-id; repeatable.",
        ),
        click.option(
            "--reason",
            "reasons",
            multiple=True,
            metavar="TEXT",
            help="Only messages whose parking reason contains TEXT; repeatable.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _names_to_act_on(
    root: SpoolRoot, spool: str, chosen: ParkedFilter, dry_run: bool, verb: str, what: str
) -> list[str]:
    """The names of the parked messages of ``spool`` that ``chosen`` keeps, to replay or discard.

    Empty, after saying so, when there are none ("nothing to VERB") or this
    is a dry run (each name printed, then "would VERB COUNT WHAT").
    Only names are kept: the messages are read again one at a time as they
    are replayed or discarded, so a large parked area is never all in memory.
    """
    names = _names_chosen(root, spool, chosen, dry_run)
    if not names:
        click.echo(f"nothing to {verb}", err=True)
        return []
    if dry_run:
        click.echo(f"would {verb} {len(names)} {what}")
        return []
    return names


def _names_chosen(root: SpoolRoot, spool: str, chosen: ParkedFilter, dry_run: bool) -> list[str]:
    """The names of the parked messages of ``spool`` that ``chosen`` keeps (a dry run prints each)."""
    open_spool(root, spool)
    if open_parked(root, spool) is None:
        return []
    names = []
    for parked in iter_parked(root, spool):
        if chosen(parked):
            names.append(parked.name)
            if dry_run:
                reason = parked.reason.splitlines()[0] if parked.reason else ""
                click.echo(f"{parked.name}  {parked.type or '-'}  {reason}")
    return names


@main.command(name="replay")
@click.argument("spool")
@parked_filter_options
@click.pass_obj
def replay_command(settings: Settings, spool: str, dry_run: bool, **filters) -> None:
    """Move parked messages of SPOOL back into SPOOL (progress on stderr)."""
    root = settings.root()
    chosen = ParkedFilter(**filters)
    selected = _names_to_act_on(root, spool, chosen, dry_run, "replay", f"message(s) into {spool}")
    if not selected:
        return
    done = 0
    with click.progressbar(length=len(selected), label=f"replaying {spool}", file=sys.stderr) as bar:
        for _parked in replay(root, spool, selected):
            done += 1
            bar.update(1)
    click.echo(f"replayed {done} message(s) into {spool}")


@main.command(name="discard")
@click.argument("spool")
@parked_filter_options
@click.option("--all", "everything", is_flag=True, help="Every parked message of SPOOL (no filter needed).")
@click.pass_obj
def discard_command(settings: Settings, spool: str, dry_run: bool, everything: bool, **filters) -> None:
    """Delete parked messages of SPOOL for good: those the filters choose, or --all."""
    chosen = ParkedFilter(**filters)
    if not chosen.given and not everything:
        raise click.UsageError("give a filter (--type, --older-than, --id, --reason) or --all")
    root = settings.root()
    selected = _names_to_act_on(root, spool, chosen, dry_run, "discard", f"parked message(s) of {spool}")
    if not selected:
        return
    done = sum(1 for _parked in discard(root, spool, selected))
    click.echo(f"discarded {done} parked message(s) of {spool}")
