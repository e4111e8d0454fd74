"""Operator commands on one spool's elements: init, put, ls, show, rm, purge.

``stats`` lives in :mod:`spoolq.cli.stats`, ``replay`` in
:mod:`spoolq.cli.parked`, ``tail`` in :mod:`spoolq.cli.tail`.
"""

from __future__ import annotations

import sys

import click

from spoolq import envelope, trail
from spoolq.cli import exit_codes
from spoolq.cli.group import main
from spoolq.cli.listing import (
    ELEMENT_COLUMNS,
    PARKED_COLUMNS,
    ListingFilter,
    element_records,
    list_elements,
    listing_filter_options,
    parked_records,
)
from spoolq.cli.output import (
    body_fields,
    decode_or_reason,
    emit_json,
    emit_records,
    fail,
    open_parked,
    open_spool,
    read_body_source,
    valid_spool_name,
    warn_of_strangers,
)
from spoolq.cli.settings import Settings
from spoolq.errors import MalformedMessage
from spoolq.message import CONTENT_TYPE, CORRELATION_ID, REPLY_TO, Message
from spoolq.spool.parking import parked_name_of


@main.command()
@click.argument("spools", nargs=-1, required=True)
@click.pass_obj
def init(settings: Settings, spools: tuple[str, ...]) -> None:
    """Create the spool root and the named spools in it."""
    for name in spools:
        valid_spool_name(name)
    root = settings.root(existing=False)
    for name in spools:
        root.spool(name)
        click.echo(f"{root.path}/{name}")


@main.command()
@click.argument("spool")
@click.argument("body", required=False)
@click.option("--file", "-f", "file", type=click.Path(dir_okay=False), help="Read the body from a file.")
@click.option("--type", "-t", "type_", help="Message type, e.g. CACHE_WRITTEN.")
@click.option("--correlation-id", help="Id of the message this one answers.")
@click.option("--reply-to", help="Spool (or destination) for the reply.")
@click.option("--content-type", help="Body content type, e.g. application/json.")
@click.option("--header", "-H", "headers", multiple=True, metavar="K=V", help="Any header; repeatable.")
@click.option("--raw", is_flag=True, help="Store the body bytes alone, without an envelope.")
@click.pass_obj
def put(
    settings: Settings,
    spool: str,
    body: str | None,
    file: str | None,
    type_: str | None,
    correlation_id: str | None,
    reply_to: str | None,
    content_type: str | None,
    headers: tuple[str, ...],
    raw: bool,
) -> None:
    """Add a message to SPOOL; BODY is text, '-' for stdin, or see --file.

    Prints the new element's name.
    """
    target = open_spool(settings.root(), spool)
    data = read_body_source(body, file)
    if raw:
        if type_ or correlation_id or reply_to or content_type or headers:
            fail("--raw stores the body alone: header options need an envelope", exit_codes.USAGE)
        click.echo(target.put(data))
        return
    message = Message.new(type_, data)
    extra = {CORRELATION_ID: correlation_id, REPLY_TO: reply_to, CONTENT_TYPE: content_type}
    extra.update(_parse_headers(headers))
    header = dict(message.header)
    header.update({key: value for key, value in extra.items() if value is not None})
    header = trail.stamp(header, trail.PUT, trail.local_node(settings.config.node), f"spool={spool}")
    click.echo(target.put(Message(message.body, header)))


def _parse_headers(pairs: tuple[str, ...]) -> dict[str, str]:
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"--header {pair!r}: expected KEY=VALUE", exit_codes.USAGE)
        parsed[key] = value
    return parsed


@main.command(name="ls")
@click.argument("spool", required=False)
@click.option("--parked", is_flag=True, help="List the parked messages of SPOOL, with reasons.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@listing_filter_options
@click.pass_obj
def ls_command(settings: Settings, spool: str | None, parked: bool, as_json: bool, **filters) -> None:
    """List the elements of SPOOL: id, type, size, age, locked.

    With no SPOOL, those of every spool (with --parked, every parked message).
    """
    root = settings.root()
    chosen = ListingFilter(**filters)
    if spool is None or chosen.given:
        list_elements(root, spool, parked, as_json, chosen)  # spoolq.cli.listing
        return
    open_spool(root, spool)
    if parked:
        emit_records(parked_records(root, spool, chosen), PARKED_COLUMNS, as_json)
    else:
        emit_records(element_records(root, spool, chosen), ELEMENT_COLUMNS, as_json)


@main.command()
@click.argument("spool")
@click.argument("element")
@click.option("--raw", is_flag=True, help="Print the element's bytes exactly as stored.")
@click.option(
    "--parked",
    is_flag=True,
    help="ELEMENT is in SPOOL's parked area (its parked or logged name, or message-id).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@click.pass_obj
def show(settings: Settings, spool: str, element: str, raw: bool, parked: bool, as_json: bool) -> None:
    """Print one element of SPOOL: its headers, a blank line, its body."""
    root = settings.root()
    source = open_spool(root, spool)
    if parked:
        source = open_parked(root, spool)
        if source is None:
            fail(f"{root.path}/parked/{spool}: nothing parked", exit_codes.NOT_FOUND)
        element = parked_name_of(root, spool, element) or element
    data = source.read(element)
    if raw:
        click.get_binary_stream("stdout").write(data)
        return
    where = f"{source.path}/{element}"
    try:
        message = envelope.decode(data, where=where)
    except MalformedMessage as exc:
        fail(f"{exc}; 'spoolq show --raw' prints its bytes as stored", exit_codes.MALFORMED)
    if as_json:  # a parked record as stored: the original's exact bytes, in base64
        emit_json({"id": element, "header": message.header, **body_fields(message)})
        return
    if parked:
        message = _original_of(message, where)
    for key, value in message.header.items():
        if key == trail.TRAIL:
            click.echo(f"{key}:")  # one hop a line, with the time each took
            for line in trail.render(value):
                click.echo(line)
        else:
            click.echo(f"{key}: {value}")
    click.echo("")
    _print_body(message.body)


def _original_of(record: Message, where: str) -> Message:
    """A parked record shown as the message it holds: the parking headers, then the original's own.

    An original that cannot be parsed is shown as its bytes.
    """
    parking_header = dict(record.header)
    original, _reason = decode_or_reason(record.body_bytes, f"{where} (the original)")
    if original is None:
        return Message(record.body_bytes, parking_header)
    return Message(original.body, {**parking_header, **original.header})


def _print_body(body: str | bytes) -> None:
    """Text, ending in a newline; binary bytes as they are, but never to a terminal (they garble it)."""
    if isinstance(body, str):
        click.echo(body, nl=not body.endswith("\n"))
    elif not body:
        return  # a parked record of a file set aside unread: its reason says where the file is
    elif sys.stdout.isatty():
        click.echo(f"[binary body of {len(body)} bytes, not shown on a terminal: redirect it, or use --json]")
    else:
        click.get_binary_stream("stdout").write(body)


@main.command()
@click.argument("spool")
@click.argument("elements", nargs=-1, required=True)
@click.pass_obj
def rm(settings: Settings, spool: str, elements: tuple[str, ...]) -> None:
    """Remove elements of SPOOL (each is locked first, so no consumer has it)."""
    source = open_spool(settings.root(), spool)
    missing = busy = 0
    for name in elements:
        if not source.exists(name):
            click.echo(f"spoolq: error: {source.path}/{name}: no such element", err=True)
            missing += 1
        elif not source.lock(name):
            click.echo(f"spoolq: error: {source.path}/{name}: locked by a consumer; not removed", err=True)
            busy += 1
        else:
            source.remove(name)
            click.echo(name)
    if missing:
        raise SystemExit(exit_codes.NOT_FOUND)
    if busy:
        raise SystemExit(exit_codes.FAILURE)


@main.command()
@click.argument("spools", nargs=-1)
@click.option("--max-temp-age", default=300.0, show_default=True, help="Seconds before a .tmp is stale.")
@click.option("--max-lock-age", default=600.0, show_default=True, help="Seconds before a lock is stale.")
@click.pass_obj
def purge(settings: Settings, spools: tuple[str, ...], max_temp_age: float, max_lock_age: float) -> None:
    """Unlock stale locks, remove stale temporaries and empty directories.

    With no SPOOL, every spool of the root (and its parked area).  An age of 0
    leaves that kind alone.
    """
    root = settings.root()
    for name in spools or root.spool_names():
        for area in (open_spool(root, name), open_parked(root, name)):
            if area is None:
                continue
            report = area.purge(max_temp_age=max_temp_age, max_lock_age=max_lock_age)
            label = area.path[len(root.path) :].lstrip("/")
            click.echo(
                f"{label}: {report.unlocked} stale lock(s) released, "
                f"{report.temporaries_removed} temporary file(s) and "
                f"{report.directories_removed} empty directory(ies) removed"
            )
    if not spools:
        warn_of_strangers(root)
