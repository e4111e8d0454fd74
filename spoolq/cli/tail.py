"""``spoolq tail [-f]``: print a spool's newest messages, then (``-f``) new arrivals.

Tail only reads: it never locks, claims or removes an element, so it can watch
a spool that consumers are draining.  A message consumed before tail could
read it is simply not shown.

Arrivals are seen by the watcher's own :class:`~spoolq.watcher.arrivals.ElementArrivals`:
the inotify watches a component uses (new intermediate directories, elements
published by rename or by link), a full rescan every few seconds and after an
inotify queue overflow, and polling where inotify is unavailable.

``-f`` runs until SIGTERM (exit 0) or SIGINT (Ctrl-C: exit 130), as every
daemon does (:mod:`spoolq.daemon.stop_signals`).
"""

from __future__ import annotations

import signal
import sys

import click

from spoolq.cli.group import main
from spoolq.cli.output import body_fields, body_preview, decode_or_reason, emit_json, open_spool
from spoolq.cli.settings import Settings
from spoolq.daemon.stop_signals import STOP_SIGNALS, StopSignals
from spoolq.errors import ElementNotFound
from spoolq.spool import Spool
from spoolq.watcher.arrivals import ElementArrivals

RESCAN_SECONDS = 2.0  # tail is watched by a person: a missed event shows within seconds
STOP_CHECK_SECONDS = 1.0  # how soon -f notices a stop signal (the handler only sets a flag)


def _print_message(spool: Spool, name: str, as_json: bool) -> None:
    try:
        data = spool.read(name)
    except ElementNotFound:
        return  # consumed before we could read it
    message, reason = decode_or_reason(data, f"{spool.path}/{name}")
    if as_json:
        record = (
            {"id": name, "malformed": reason}
            if message is None
            else {"id": name, "header": message.header, **body_fields(message)}
        )
        emit_json(record)
    elif message is None:
        click.echo(f"{name}  !malformed: {reason}")
    else:
        click.echo(f"{name}  {message.type or '-'}  {body_preview(message)}")


@main.command()
@click.argument("spool")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new messages until Ctrl-C.")
@click.option("--lines", "-n", default=10, show_default=True, help="How many existing messages to show.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per message, one a line.")
@click.pass_obj
def tail(settings: Settings, spool: str, follow: bool, lines: int, as_json: bool) -> None:
    """Print the newest messages of SPOOL; with -f, new ones as they arrive."""
    source = open_spool(settings.root(), spool)
    follower = ElementArrivals(source, rescan_interval=RESCAN_SECONDS) if follow else None
    stops = StopSignals()
    if follower is not None:
        for signum in STOP_SIGNALS:
            signal.signal(signum, lambda number, frame: stops.add(number))  # only sets a flag
    try:
        existing = sorted(follower.seen) if follower else list(source.names())
        for name in existing[-lines:] if lines > 0 else []:
            _print_message(source, name, as_json)
        while follower is not None and not stops.stopping:
            for name in follower.arrivals(timeout=STOP_CHECK_SECONDS):
                _print_message(source, name, as_json)
    finally:
        if follower is not None:
            follower.close()
    if stops.exit_code():
        sys.exit(stops.exit_code())
