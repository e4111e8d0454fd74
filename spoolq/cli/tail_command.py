"""``spoolq tail [-f]``: print a spool's newest messages, then (``-f``) new arrivals.

Tail only reads: it never locks, claims or removes an element, so it can watch
a spool that consumers are draining.  A message consumed before tail could
read it is simply not shown.

Arrivals are seen through inotify on the spool directory (new intermediate
directories) and on each intermediate directory (elements published by rename
or by link).  A full rescan every few seconds, and after an inotify queue
overflow, catches anything the events missed.
"""

from __future__ import annotations

import os
import time

import click
from inotify_simple import INotify, flags

from spoolq.cli import main
from spoolq.cli.output import body_fields, body_preview, decode_or_reason, emit_json, open_spool
from spoolq.cli.settings import Settings
from spoolq.errors import ElementNotFound
from spoolq.layout import element_names, is_directory_name, is_element_name
from spoolq.spool import Spool

_WATCH = flags.CREATE | flags.MOVED_TO | flags.DELETE_SELF
RESCAN_SECONDS = 2.0


class ArrivalFollower:
    """Reports element names of a spool once each, as they appear."""

    def __init__(self, spool: Spool, rescan_seconds: float = RESCAN_SECONDS):
        self.spool = spool
        self.rescan_seconds = rescan_seconds
        self._inotify = INotify()
        self._directories: dict[int, str] = {}  # watch descriptor -> intermediate directory
        self._top = self._inotify.add_watch(spool.path, _WATCH)
        for directory in spool.directories():
            self._watch(directory)
        # Watches first, then the listing: an element published in between is
        # both listed and announced, and ``seen`` drops the second report.
        self.seen = set(spool.names())
        self._last_rescan = time.monotonic()

    def close(self) -> None:
        self._inotify.close()

    def _watch(self, directory: str) -> None:
        try:
            wd = self._inotify.add_watch(f"{self.spool.path}/{directory}", _WATCH)
        except (FileNotFoundError, NotADirectoryError):
            return  # purged meanwhile
        self._directories[wd] = directory

    def arrivals(self, timeout: float) -> list[str]:
        """New element names (oldest first), waiting up to ``timeout`` seconds for one."""
        candidates: set[str] = set()
        rescan = time.monotonic() - self._last_rescan >= self.rescan_seconds
        for event in self._inotify.read(timeout=int(timeout * 1000)):
            if event.mask & flags.Q_OVERFLOW:
                rescan = True
            elif event.wd == self._top:
                if event.mask & flags.ISDIR and is_directory_name(event.name):
                    self._watch(event.name)
                    candidates.update(self._names_in(event.name))
            elif event.mask & (flags.IGNORED | flags.DELETE_SELF):
                self._directories.pop(event.wd, None)
            elif is_element_name(event.name) and event.wd in self._directories:
                candidates.add(f"{self._directories[event.wd]}/{event.name}")
        if rescan:
            candidates.update(self._rescan())
        new = sorted(candidates - self.seen)
        self.seen.update(new)
        return new

    def _names_in(self, directory: str) -> list[str]:
        try:
            entries = os.listdir(f"{self.spool.path}/{directory}")
        except (FileNotFoundError, NotADirectoryError):
            return []
        return [f"{directory}/{e}" for e in element_names(entries)]

    def _rescan(self) -> set[str]:
        watched = set(self._directories.values())
        for directory in self.spool.directories():
            if directory not in watched:
                self._watch(directory)
        current = set(self.spool.names())
        self.seen &= current  # forget consumed elements, so that ``seen`` stays small
        self._last_rescan = time.monotonic()
        return current


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
    follower = ArrivalFollower(source) if follow else None
    try:
        existing = sorted(follower.seen) if follower else list(source.names())
        for name in existing[-lines:] if lines > 0 else []:
            _print_message(source, name, as_json)
        while follower is not None:
            for name in follower.arrivals(timeout=1.0):
                _print_message(source, name, as_json)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how one stops following: success
    finally:
        if follower is not None:
            follower.close()
