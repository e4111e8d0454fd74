"""``spoolq find ID``: where a message is and in what state (``postcat -q`` and ``postqueue -p | grep``).

ID is a message-id, a correlation-id or an element name (``dir/elt``, a
path ending in one as the log prints it, or the bare 14 hex digits).  Every
spool and parked area of the root is searched (:mod:`spoolq.spool.search`:
no index), then what the shippers record as sent
(:mod:`spoolq.shippers.sent_log`) and received
(:mod:`spoolq.shippers.recent_ids`).  Each place found is one line (one JSON
object with ``--json``) with its state:

``queued``   ready for the next consumer
``locked``   claimed; by which process, when the owner files say (:mod:`spoolq.spool.holders`)
``waiting``  waiting out a backoff until its ``not-before`` time (``spoolq retry`` ends the wait)
``parked``   set aside, with the reason
``shipped``  sent to a broker destination (when, by which shipper)
``received`` written here by a receiver (which)

Nothing found exits 3, as for any missing element.
"""

from __future__ import annotations

import os
import time
from typing import Any

import click

from spoolq.cli import exit_codes
from spoolq.cli.group import main
from spoolq.cli.output import emit_records, fail, human_age
from spoolq.cli.settings import Settings
from spoolq.component.retry import ATTEMPT, NOT_BEFORE, RETRY_REASON
from spoolq.message import CORRELATION_ID, MESSAGE_ID, TYPE
from spoolq.shippers.recent_ids import received_by
from spoolq.shippers.sent_log import find_sent
from spoolq.shippers.status import STATE_DIR
from spoolq.spool import SpoolRoot, layout
from spoolq.spool.holders import holders
from spoolq.spool.parking import PARKED_AT, PARKED_ELEMENT, PARKED_FROM, PARKED_REASON
from spoolq.spool.search import Located, areas, elements_holding, find_element, find_id

COLUMNS = ("where", "element", "state", "detail")


@main.command(name="find")
@click.argument("wanted", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per place found.")
@click.pass_obj
def find_command(settings: Settings, wanted: str, as_json: bool) -> None:
    """Find a message by message-id, correlation-id or element name, in every spool and parked area
    of the root and in the shippers' records; print where it is and in what state."""
    root = settings.root()
    if not os.path.isdir(root.path):
        fail(f"{root.path}: no such spool root", exit_codes.CONFIG)
    records = find_records(root, wanted.strip())
    if not records:
        where = f"{root.path} (spools, parked areas, shippers' records)"
        fail(f"{wanted}: not found in {where}", exit_codes.NOT_FOUND)
    emit_records(records, COLUMNS, as_json)


def find_records(root: SpoolRoot, wanted: str) -> list[dict[str, Any]]:
    """What ``spoolq find`` prints: one record per place ``wanted`` was found."""
    name = _element_name(root, wanted)
    now = time.time()
    located = find_element(root, name) + _parked_from(root, name) if name is not None else []
    if not located or wanted not in (name, name and name[9:]):
        # Not a bare element name, or none by that name: an id (a reply to a message without
        # a message-id has "SPOOL/dir/elt" as its correlation-id; a message-id may be 14 hex digits).
        located += find_id(root, wanted)
    unique = {found.path: found for found in located}  # a parked record may be found both ways
    records = [_record(root, found, now) for found in unique.values()]
    records += _shipper_records(root, wanted, now)
    return records


def _element_name(root: SpoolRoot, wanted: str) -> str | None:
    """``dir/elt`` when ``wanted`` names an element (a path ending in one, or a bare ``elt``)."""
    wanted = wanted.rstrip("/")
    if layout.is_element_path(wanted[-23:]) and (len(wanted) == 23 or wanted[-24] == "/"):
        return wanted[-23:]
    if layout.is_element_name(wanted[-14:]) and (len(wanted) == 14 or wanted[-15] == "/"):
        return _directory_of(root, wanted[-14:])
    return None


def _directory_of(root: SpoolRoot, elt: str) -> str | None:
    """The ``dir/elt`` of a bare element name: the first directory of any area holding it."""
    for _area, _spool, path in areas(root):
        try:
            directories = [d for d in os.listdir(path) if layout.is_directory_name(d) and d <= elt[:8]]
        except OSError:
            continue
        for directory in sorted(directories, reverse=True):  # an element sits in a directory named before it
            if os.path.lexists(f"{path}/{directory}/{elt}"):
                return f"{directory}/{elt}"
    return f"{elt[:8]}/{elt}"  # found nowhere: the parked records may still name it


def _parked_from(root: SpoolRoot, name: str) -> list[Located]:
    """Parked records of the element that was called ``name`` in the spool it was parked from."""
    found = []
    for area, _spool, path in areas(root):
        if area != "parked":
            continue
        for parked_name, _data in elements_holding(path, name.encode()):
            for located in find_element(root, parked_name):
                if located.area == "parked" and (located.header or {}).get(PARKED_ELEMENT) == name:
                    found.append(located)
    return found


def _record(root: SpoolRoot, found: Located, now: float) -> dict[str, Any]:
    header = found.header or {}
    original = found.original_header or {}
    record: dict[str, Any] = {
        "where": found.spool if found.area == "spool" else f"parked/{found.spool}",
        "element": found.name,
        "path": found.path,
        "size": found.size,
        MESSAGE_ID: header.get(MESSAGE_ID) or original.get(MESSAGE_ID),
        CORRELATION_ID: header.get(CORRELATION_ID) or original.get(CORRELATION_ID),
        TYPE: header.get(TYPE) or original.get(TYPE),
    }
    if found.area == "parked":
        parked_at = _number(header.get(PARKED_AT))
        reason = header.get(PARKED_REASON, "")
        record.update(
            state="parked",
            parked_from=header.get(PARKED_FROM, found.spool),
            parked_element=header.get(PARKED_ELEMENT),
            parked_at=parked_at,
            reason=reason,
            detail=f"{_ago(parked_at, now)}: {(reason.splitlines() or [''])[0]}",
        )
    elif found.locked:
        pids = _holding_pids(root.path, found.spool, found.name)
        by = f"pid {', '.join(map(str, pids))}" if pids else "a process that registered no owner file"
        detail = f"by {by}, {_ago(found.lock_time, now)}"
        record.update(state="locked", locked_by=pids, locked_at=found.lock_time, detail=detail)
    elif _number(header.get(NOT_BEFORE)) > now:
        due = _number(header.get(NOT_BEFORE))
        record.update(
            state="waiting",
            not_before=due,
            attempt=header.get(ATTEMPT),
            reason=header.get(RETRY_REASON, ""),
            detail=f"until {_utc(due)} (in {human_age(due - now)}), attempt {header.get(ATTEMPT, '?')}: "
            f"{header.get(RETRY_REASON, '')}",
        )
    else:
        record.update(state="queued", detail=f"since {_ago(layout.element_time(found.name), now)}")
    return record


def _holding_pids(root_path: str, spool: str, name: str) -> list[int]:
    """The live owners whose slots name ``name``; else every live owner of ``spool``.

    A shipper's owner file notes no claims, so its pid shows as the spool's owner.
    """
    live = [h for h in holders(root_path, spool) if h.alive]
    return [h.pid for h in live if h.holds(name)] or [h.pid for h in live]


def _shipper_records(root: SpoolRoot, wanted: str, now: float) -> list[dict[str, Any]]:
    directory = os.path.join(root.path, STATE_DIR)
    records = [
        {
            "where": f"shipper {sent.shipper}",
            "element": sent.element,
            "state": "shipped",
            "detail": f"to {sent.destination}, {_ago(sent.sent_at, now)} ({_utc(sent.sent_at)})",
            "shipper": sent.shipper,
            "destination": sent.destination,
            "sent_at": sent.sent_at,
            MESSAGE_ID: sent.message_id,
        }
        for sent in find_sent(directory, wanted)
    ]
    records += [
        {
            "where": f"receiver {receiver}",
            "element": None,
            "state": "received",
            "detail": "its id is among the receiver's recent ids",
            "receiver": receiver,
            MESSAGE_ID: wanted,
        }
        for receiver in received_by(directory, wanted)
    ]
    return records


def _number(text: str | None) -> float:
    try:
        return float(text) if text else 0.0
    except ValueError:
        return 0.0


def _utc(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))


def _ago(when: float | None, now: float) -> str:
    return "-" if not when else f"{human_age(max(0.0, now - when))} ago"
