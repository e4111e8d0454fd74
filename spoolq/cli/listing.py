"""``spoolq ls`` across the root and with filters: every spool's elements, every parked message.

``ls SPOOL`` alone prints as it always has (:mod:`spoolq.cli.spools`).  With
no SPOOL it lists every spool of the root, a ``spool`` column first; with
``--parked`` every parked message.  The filters narrow either: ``--type``,
``--older-than`` and ``--newer-than`` (seconds; for a parked message, since
it was parked), ``--reason`` (parked messages) and ``--limit``.  An age
filter is checked on the element's name before its bytes are read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import click

from spoolq.cli.output import age_of, decode_or_reason, emit_records, open_parked, open_spool
from spoolq.errors import ElementNotFound
from spoolq.spool import Spool, SpoolRoot
from spoolq.spool.layout import element_time
from spoolq.spool.parking import iter_parked

ELEMENT_COLUMNS = ("id", "type", "size", "age", "locked")
PARKED_COLUMNS = ("id", "type", "size", "age", "attempts", "reason")


@dataclass(frozen=True)
class ListingFilter:
    """Which elements ``ls`` prints: each given filter must match (any of its values)."""

    types: tuple[str, ...] = ()
    older_than: float | None = None
    newer_than: float | None = None
    reasons: tuple[str, ...] = ()
    limit: int | None = None

    @property
    def given(self) -> bool:
        return bool(self.types or self.reasons) or any(
            v is not None for v in (self.older_than, self.newer_than, self.limit)
        )

    def age_fits(self, age: float) -> bool:
        if self.older_than is not None and age < self.older_than:
            return False
        return self.newer_than is None or age <= self.newer_than

    def keeps(self, record: dict[str, Any]) -> bool:
        if self.types and record.get("type") not in self.types:
            return False
        reason = record.get("reason") or ""
        return not self.reasons or any(text in reason for text in self.reasons)


def listing_filter_options(command: Callable) -> Callable:
    """The options of :class:`ListingFilter`, as keyword arguments of ``command``."""
    seconds = click.FloatRange(min=0)
    options = [
        click.option("--type", "-t", "types", multiple=True, help="Only messages of this type; repeatable."),
        click.option("--older-than", type=seconds, metavar="SECONDS", help="At least this old."),
        click.option("--newer-than", type=seconds, metavar="SECONDS", help="At most this old."),
        click.option(
            "--reason",
            "reasons",
            multiple=True,
            metavar="TEXT",
            help="Only parked messages whose reason contains TEXT; repeatable (with --parked).",
        ),  # fmt: skip
        click.option("--limit", type=click.IntRange(min=0), help="Print at most this many."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def list_elements(
    root: SpoolRoot, spool: str | None, parked: bool, as_json: bool, chosen: ListingFilter
) -> None:
    """Print the elements (or parked messages) of ``spool``, or of every spool, that ``chosen`` keeps."""
    if chosen.reasons and not parked:
        raise click.UsageError("--reason filters parked messages: add --parked")
    if spool is not None:
        names, columns = [spool], ()
        open_spool(root, spool)
    else:
        names, columns = (root.parked_names() if parked else root.spool_names()), ("spool",)
    columns += PARKED_COLUMNS if parked else ELEMENT_COLUMNS
    records = _records(root, names, parked, chosen, with_spool=spool is None)
    emit_records(_limited(records, chosen.limit), columns, as_json)


def _records(
    root: SpoolRoot, names: list[str], parked: bool, chosen: ListingFilter, with_spool: bool
) -> Iterator[dict]:
    for name in names:
        records = parked_records(root, name, chosen) if parked else element_records(root, name, chosen)
        for record in records:
            if chosen.keeps(record):
                yield {"spool": name, **record} if with_spool else record


def element_records(root: SpoolRoot, name: str, chosen: ListingFilter) -> Iterator[dict]:
    """The ``ls`` record of each element of spool ``name`` whose age ``chosen`` admits."""
    spool: Spool = root.spool(name, create=False)
    for element in spool.names():
        age = age_of(element_time(element))
        if not chosen.age_fits(age):
            continue  # decided by the name alone: not read
        try:
            data = spool.read(element)
        except ElementNotFound:
            continue  # consumed while we listed
        message, reason = decode_or_reason(data, f"{spool.path}/{element}")
        record = {
            "id": element,
            "type": message.type if message else None,
            "size": len(data),
            "age": age,
            "locked": spool.is_locked(element),
        }
        if reason:
            record["malformed"] = reason
        yield record


def parked_records(root: SpoolRoot, name: str, chosen: ListingFilter) -> Iterator[dict]:
    """The ``ls --parked`` record of each message parked from ``name`` whose age ``chosen`` admits."""
    if open_parked(root, name) is None:
        return
    for parked in iter_parked(root, name):
        age = age_of(parked.parked_at)
        if chosen.age_fits(age):
            yield {
                "id": parked.name,
                "type": parked.type,
                "size": len(parked.original),
                "age": age,
                "attempts": parked.attempts,
                "reason": parked.reason,
            }


def _limited(records: Iterator[dict], limit: int | None) -> Iterator[dict]:
    if limit is None:
        yield from records
        return
    for count, record in enumerate(records):
        if count >= limit:
            return
        yield record
