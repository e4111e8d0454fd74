"""How the operator commands print: aligned text for people, JSON lines for programs.

Every listing command (``ls``, ``stats``, ``tail``, ``show``) builds plain
dictionaries first and hands them to :func:`emit_records`, so that the text
and the ``--json`` forms always carry the same facts.  A binary body is given
in JSON as base64 with ``"encoding": "base64"``, the envelope's own spelling.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

import click

from spoolq import envelope
from spoolq.cli import exit_codes
from spoolq.errors import MalformedMessage, SpoolError
from spoolq.message import Message
from spoolq.spool import Spool, SpoolRoot
from spoolq.spool.root import check_spool_name


class CommandError(click.ClickException):
    """A command's own failure: one line on stderr and the exit code it names."""

    def __init__(self, message: str, exit_code: int = exit_codes.FAILURE):
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:
        click.echo(f"spoolq: error: {self.format_message()}", err=True)


def fail(message: str, exit_code: int = exit_codes.FAILURE) -> NoReturn:
    raise CommandError(message, exit_code)


def valid_spool_name(name: str) -> str:
    """``name`` if it can name a spool; else exit with USAGE: it is the command line that is wrong."""
    try:
        return check_spool_name(name)
    except SpoolError as exc:
        fail(str(exc), exit_codes.USAGE)


def open_spool(root: SpoolRoot, name: str) -> Spool:
    """An existing spool of ``root``; a missing one exits with NOT_FOUND, a bad name with USAGE."""
    valid_spool_name(name)
    path = os.path.join(root.path, name)
    if not os.path.isdir(path):
        fail(f"{path}: no such spool; create it with 'spoolq init {name}'", exit_codes.NOT_FOUND)
    return root.spool(name, create=False)


def open_parked(root: SpoolRoot, name: str) -> Spool | None:
    """The parked area of spool ``name``, or ``None`` when nothing was ever parked."""
    if not os.path.isdir(os.path.join(root.path, "parked", name)):
        return None
    return root.parked(name, create=False)


def warn_of_strangers(root: SpoolRoot) -> None:
    """Say on stderr what in the root is not spoolq's: no command counts, lists or purges it."""
    strangers = root.strangers()
    if strangers:
        more = len(strangers) - 10
        shown = ", ".join(strangers[:10]) + (f" and {more} more" if more > 0 else "")
        click.echo(
            f"spoolq: note: {root.path} holds {len(strangers)} entr{'y' if len(strangers) == 1 else 'ies'} "
            f"that are not spools, neither counted nor touched by spoolq: {shown}",
            err=True,
        )


def human_age(seconds: float | None) -> str:
    """``42s``, ``7m``, ``3h``, ``2d``: an age an operator reads at a glance."""
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def age_of(timestamp: float) -> float:
    return max(0.0, time.time() - timestamp)


def body_fields(message: Message) -> dict[str, Any]:
    """The body as JSON can carry it: text as is, binary as base64."""
    if isinstance(message.body, str):
        return {"body": message.body, "text": True}
    return {"body": base64.b64encode(message.body).decode("ascii"), "text": False, "encoding": "base64"}


def decode_or_reason(data: bytes, where: str) -> tuple[Message | None, str | None]:
    """The message in ``data``, or ``None`` and why it is malformed."""
    try:
        return envelope.decode(data, where=where), None
    except MalformedMessage as exc:
        return None, exc.reason


def body_preview(message: Message, width: int = 80) -> str:
    """One line showing the start of the body (binary shown as its size)."""
    if isinstance(message.body, bytes):
        return f"<{len(message.body)} bytes binary>"
    flat = message.body.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")
    return flat if len(flat) <= width else flat[: width - 3] + "..."


def emit_json(record: dict[str, Any]) -> None:
    click.echo(json.dumps(record, ensure_ascii=False, sort_keys=False))


def emit_records(records: Iterable[dict[str, Any]], columns: Sequence[str], as_json: bool) -> None:
    """Print records as JSON lines, or as a table with a header row."""
    if as_json:
        for record in records:
            emit_json(record)
        return
    rows = [[_cell(record.get(column)) for column in columns] for record in records]
    if not rows:
        return
    widths = [max(len(column), *(len(row[i]) for row in rows)) for i, column in enumerate(columns)]
    lines = [columns, *rows]
    for line in lines:
        cells = [cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=False)]
        click.echo("  ".join([*cells, line[-1]]).rstrip())


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return human_age(value)
    return str(value).replace("\n", " ")


def read_body_source(body: str | None, file: str | None) -> str | bytes:
    """The body of ``put``: the argument, a file, or stdin for ``-``."""
    if body is not None and file is not None:
        fail("give the body as an argument or with --file, not both", exit_codes.USAGE)
    if file is not None:
        try:
            with open(file, "rb") as handle:
                return _text_if_utf8(handle.read())
        except OSError as exc:
            fail(f"{file}: cannot read: {exc.strerror}", exit_codes.NOT_FOUND)
    if body == "-":
        return _text_if_utf8(sys.stdin.buffer.read())
    return body or ""


def _text_if_utf8(data: bytes) -> str | bytes:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data
