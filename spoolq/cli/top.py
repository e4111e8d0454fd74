"""``spoolq top``: a live view of a root, what ``rq info --interval`` is for rq.

Each refresh shows every spool's depth, rate in and out, oldest age and
parked count, and whether the component or shipper serving it is running,
connected, waiting or failing, with the reason (:mod:`spoolq.cli.top_figures`).
On a terminal it redraws one table; otherwise it prints plain lines
(:mod:`spoolq.cli.top_view`).  ``--count`` bounds the refreshes, so that a
script or a test gets a few frames and an exit.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import click

from spoolq.cli import exit_codes
from spoolq.cli.group import main
from spoolq.cli.output import open_spool
from spoolq.cli.settings import Settings

if TYPE_CHECKING:
    from spoolq.cli.top_figures import Frame

#: A component whose metrics file has not been written for this many intervals is taken for dead.
STALE_INTERVALS = 3


@main.command()
@click.argument("spools", nargs=-1)
@click.option(
    "--interval",
    "-n",
    type=click.FloatRange(min=0.1),
    default=2.0,
    show_default=True,
    help="Seconds between refreshes.",
)
@click.option(
    "--count", type=click.IntRange(min=1), help="Stop after this many refreshes [default: until Ctrl-C]."
)
@click.option("--once", is_flag=True, help="One look, then exit (as --count 1).")
@click.option("--plain", is_flag=True, help="Plain lines even on a terminal.")
@click.pass_obj
def top(
    settings: Settings, spools: tuple[str, ...], interval: float, count: int | None, once: bool, plain: bool
) -> None:
    """A live view: depth, rates in and out, oldest age, parked, and who serves each spool.

    With no SPOOL, every spool of the root.  Rates need two looks: the first
    shows "-".  On a terminal the table is redrawn in place; elsewhere each
    refresh prints one line per spool and per component or shipper.  Ctrl-C
    ends it (exit 130).
    """
    if once and count is not None:
        raise click.UsageError("give --once or --count, not both")
    root = settings.root()
    for name in spools:
        open_spool(root, name)  # a typo: exit 3 now, not an empty view
    # Imported here: every other command would pay for rich's import otherwise.
    from rich.console import Console

    from spoolq.cli.top_figures import look

    stale_after = STALE_INTERVALS * settings.config.metrics_interval
    frames = 1 if once else count

    def frame(previous: Frame | None) -> Frame:
        return look(root, settings.config.metrics_dir, stale_after, spools, previous)

    console = Console()
    try:
        if console.is_terminal and not plain:
            _live(console, frame, frames, interval, root.path)
        else:
            _lines(frame, frames, interval)
    except KeyboardInterrupt:
        sys.exit(exit_codes.INTERRUPTED)


def _lines(frame, frames: int | None, interval: float) -> None:
    from spoolq.cli.top_view import plain_lines

    previous = None
    shown = 0
    while True:
        previous = frame(previous)
        click.echo("\n".join(plain_lines(previous)))
        sys.stdout.flush()
        shown += 1
        if frames is not None and shown >= frames:
            return
        time.sleep(interval)


def _live(console, frame, frames: int | None, interval: float, where: str) -> None:
    from rich.live import Live

    from spoolq.cli.top_view import table

    previous = frame(None)
    shown = 1

    def title() -> str:
        clock = time.strftime("%H:%M:%S", time.localtime(previous.at))
        return f"spoolq top  {where}  {clock}  every {interval:g} s  (Ctrl-C: quit)"

    with Live(table(previous, title()), console=console, auto_refresh=False) as live:
        while frames is None or shown < frames:
            time.sleep(interval)
            previous = frame(previous)
            shown += 1
            live.update(table(previous, title()), refresh=True)
