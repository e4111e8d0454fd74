"""How ``spoolq top`` shows a :class:`~spoolq.cli.top_figures.Frame`: a rich table, or plain lines.

On a terminal, one table redrawn in place (rich's ``Live``); anywhere else
(a pipe, a log, cron mail) plain ``key=value`` lines, one per spool and one
per daemon, each starting with the time, so that ``grep`` and ``awk`` read
them and nothing is redrawn.
"""

from __future__ import annotations

import time

from rich.table import Table
from rich.text import Text

from spoolq.cli.output import human_age
from spoolq.cli.top_figures import Daemon, Frame, SpoolFigures

#: rich styles by state: well, waiting or unknown, wrong.
STATE_STYLES = {
    "running": "green",
    "connected": "green",
    "stopped": "dim",
    "waiting": "yellow",
    "stale": "red",
    "failing": "bold red",
    "login refused": "bold red",
}


def rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}/s"


def plain_lines(frame: Frame) -> list[str]:
    """The frame as plain lines: ``HH:MM:SS spool NAME depth=...`` and ``HH:MM:SS KIND NAME spool=...``."""
    clock = time.strftime("%H:%M:%S", time.localtime(frame.at))
    lines = [f"{clock} spool {s.spool} {_spool_fields(s)}" for s in frame.spools]
    lines.extend(f"{clock} {d.kind} {d.name} {_daemon_fields(d)}" for d in frame.daemons)
    lines.extend(f"{clock} note {problem}" for problem in frame.problems)
    return lines


def _spool_fields(spool: SpoolFigures) -> str:
    return (
        f"depth={spool.depth} in={rate(spool.rate_in)} out={rate(spool.rate_out)} "
        f"oldest={human_age(spool.oldest_age)} parked={spool.parked}"
    )


def _daemon_fields(daemon: Daemon) -> str:
    fields = f"spool={daemon.spool or '-'} state={daemon.state.replace(' ', '_')}"
    if daemon.reason:
        fields += f' reason="{daemon.reason.replace(chr(34), chr(39))}"'
    return fields


def table(frame: Frame, title: str) -> Table:
    """The frame as one rich table: a row per spool, its daemons in the last columns."""
    grid = Table(title=title, title_justify="left", expand=False)
    for column in ("spool", "depth", "in", "out", "oldest", "parked"):
        grid.add_column(column, justify="left" if column == "spool" else "right")
    grid.add_column("served by")
    grid.add_column("state")
    grid.add_column("reason", overflow="fold", max_width=60)
    shown = set()
    for spool in frame.spools:
        shown.add(spool.spool)
        figures = (str(spool.depth), rate(spool.rate_in), rate(spool.rate_out), human_age(spool.oldest_age))
        grid.add_row(spool.spool, *figures, str(spool.parked), *_daemon_cells(frame.serving(spool.spool)))
    for daemon in frame.daemons:
        if daemon.spool not in shown:  # its spool not made yet, or gone
            grid.add_row(daemon.spool or "-", "", "", "", "", "", *_daemon_cells([daemon]))
    if frame.problems:
        grid.caption = "; ".join(frame.problems)
    return grid


def _daemon_cells(daemons: list[Daemon]) -> tuple[Text | str, Text | str, str]:
    if not daemons:
        return "-", "", ""
    served = "\n".join(f"{d.kind} {d.name}" for d in daemons)
    state = Text()
    for index, daemon in enumerate(daemons):
        state.append(("\n" if index else "") + daemon.state, style=STATE_STYLES.get(daemon.state, ""))
    reason = "\n".join(d.reason for d in daemons)
    return served, state, reason
