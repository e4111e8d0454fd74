"""Policy Engine: decides when files are archived and staged (spools ``pe`` and ``pe_reply``).

* ``CACHE_WRITTEN`` joins the group of its library/storage group/file family;
  a group is sent as one ``MDC_ARCHIVE`` when it reaches ``max_files`` files,
  ``max_bytes`` bytes, or ``max_age`` seconds (age is checked on every message
  and on each ``TICK``, since the runtime calls handlers only on messages).
  A file already pending, in flight or archived is not taken twice.
* ``CACHE_MISSED`` waits ``stage_delay`` seconds for more misses of the same
  container, then one ``MDC_STAGE`` asks for all of them.  The reader (the
  miss's ``reply-to``) is answered when ``CACHE_STAGED`` arrives, or with the
  error when ``MDR_STAGED`` reports the file failed.
* ``FILE_DELETED`` and ``CACHE_PURGED`` drop pending work; a purge of a file
  not yet archived is an error: the state is fixed, then the message is
  parked with that reason, where monitoring sees it.
* ``MDR_*`` replies (on ``pe_reply``) settle what was in flight; failed
  archive files go back to their group.
* Archived files are remembered (to drop a duplicate ``CACHE_WRITTEN`` and
  to accept their ``CACHE_PURGED``) for ``archived_keep`` seconds (a day by
  default), or until their ``FILE_DELETED``: the state does not grow
  with every file ever archived.

All of it lives in ``ROOT/.state/pe.json``, saved before the input is acked;
the tickets of files waiting for archive are kept beside it, one file each
(:mod:`spoolq.enstore.ticket_store`), so the state stays small.
"""

from __future__ import annotations

import logging
import time

from spoolq.component import timer
from spoolq.enstore.catalogue import dispatcher, events
from spoolq.enstore.catalogue.fields import OK, require_correlation
from spoolq.enstore.state import StateFile
from spoolq.enstore.ticket_store import TicketStore
from spoolq.errors import Reject
from spoolq.handlers.base import Context, Handler
from spoolq.message import Message

SECTIONS = ("groups", "archiving", "archived", "archived_at", "stage_pending", "staging", "waiting")


class PolicyEngine(Handler):
    name = "policy_engine"

    def setup(self, context: Context) -> None:
        name = self.options.get("state_name", "pe")
        self.tickets = TicketStore(context.root.path, name, durable=context.root.durable)
        self.state = StateFile(context.root.path, name, durable=context.root.durable)
        self.md_spool = self.options.get("md_spool", "md")
        self.reply_spool = self.options.get("reply_spool", "pe_reply")
        self.max_files = int(self.options.get("max_files", 100))
        self.max_bytes = int(self.options.get("max_bytes", 64 * 1024 * 1024))
        self.max_age = float(self.options.get("max_age", 5.0))
        self.stage_delay = float(self.options.get("stage_delay", 0.5))
        self.archived_keep = float(self.options.get("archived_keep", 86400.0))
        known = self.state.load()
        if set(known.get("archived", {})) - set(known.get("archived_at", {})):
            # Files archived by a state written before archived_at existed: timed from now.
            # Only then is the state rewritten: an ordinary start writes nothing.
            with self.state.change() as state:
                archived_at = state.setdefault("archived_at", {})
                for file_id in state.get("archived", {}):
                    archived_at.setdefault(file_id, time.time())

    def teardown(self) -> None:
        self.state.close()

    def handle(self, message: Message, context: Context) -> None:
        problem = None
        with self.state.change() as state:
            for section in SECTIONS:
                state.setdefault(section, {})
            problem = self._dispatch(message, state, context)
            now = time.time()
            self._send_due(state, context, now)
            _forget_archived(state, now - self.archived_keep)
            _count(state, message.type)
        if problem:  # state is saved; park the message so the error is seen
            raise Reject(problem)

    def _dispatch(self, message: Message, state: dict, context: Context) -> str | None:
        type_ = message.type
        if type_ == timer.TICK:
            return None
        if type_ in dispatcher.REPLIES:
            return self._on_reply(message, state, context)
        if type_ not in events.TYPES:
            raise Reject(f"policy engine does not handle {type_!r}")
        ticket = events.read_event(message)
        handler = {
            events.CACHE_WRITTEN: self._on_written,
            events.CACHE_MISSED: self._on_missed,
            events.CACHE_STAGED: self._on_staged,
            events.CACHE_PURGED: self._on_purged,
            events.FILE_DELETED: self._on_deleted,
        }[type_]
        return handler(ticket, message, state, context)

    # -- writes ---------------------------------------------------------------------

    def _on_written(self, ticket: dict, message: Message, state: dict, context: Context) -> None:
        file_id = ticket["file"]["id"]
        if file_id in state["archived"] or _in_flight(state, file_id):
            return  # a duplicate: it is archived once
        group = state["groups"].setdefault(
            events.group_key(ticket), {"since": time.time(), "bytes": 0, "files": {}}
        )
        if file_id not in group["files"]:
            self.tickets.put(file_id, ticket)  # before the state that refers to it
            group["files"][file_id] = ticket["file"]["size"]
            group["bytes"] += ticket["file"]["size"]

    def _send_due(self, state: dict, context: Context, now: float) -> None:
        for key, group in list(state["groups"].items()):
            full = len(group["files"]) >= self.max_files or group["bytes"] >= self.max_bytes
            if group["files"] and (full or now - group["since"] >= self.max_age):
                tickets = self._tickets_of(group)
                if not tickets:
                    del state["groups"][key]
                    continue
                command = dispatcher.archive(tickets, reply_to=self.reply_spool, group=key)
                state["archiving"][command.message_id] = {"key": key, "files": group["files"], "deleted": []}
                context.emit(self.md_spool, command)
                del state["groups"][key]
        for container, pending in list(state["stage_pending"].items()):
            if now - pending["since"] >= self.stage_delay:
                command = dispatcher.stage(list(pending["files"].values()), reply_to=self.reply_spool)
                state["staging"][command.message_id] = {
                    "container": container,
                    "files": list(pending["files"]),
                }
                context.emit(self.md_spool, command)
                del state["stage_pending"][container]

    def _tickets_of(self, group: dict) -> list[dict]:
        """The stored tickets of a group's files; a file whose ticket is gone is dropped."""
        tickets = []
        for file_id in list(group["files"]):
            ticket = self.tickets.get(file_id)
            if ticket is None:
                logging.getLogger("spoolq.policy_engine").error("file %s: ticket lost, not archived", file_id)
                group["bytes"] -= group["files"].pop(file_id)
            else:
                tickets.append(ticket)
        return tickets

    # -- reads ----------------------------------------------------------------------

    def _on_missed(self, ticket: dict, message: Message, state: dict, context: Context) -> None:
        file_id = ticket["file"]["id"]
        if message.reply_to:
            state["waiting"].setdefault(file_id, []).append([message.reply_to, message.message_id])
        if any(file_id in s["files"] for s in state["staging"].values()):
            return  # a stage for it is already under way
        container = ticket["enstore"]["bfid"]
        pending = state["stage_pending"].setdefault(container, {"since": time.time(), "files": {}})
        pending["files"][file_id] = ticket

    def _on_staged(self, ticket: dict, message: Message, state: dict, context: Context) -> None:
        self._release(ticket["file"]["id"], ticket, OK, state, context)

    def _release(self, file_id: str, ticket: dict, status: list, state: dict, context: Context) -> None:
        for reply_to, miss_id in state["waiting"].pop(file_id, []):
            answer = Message.new(events.CACHE_STAGED, {**ticket, "status": status}, correlation_id=miss_id)
            context.emit(reply_to, answer.with_header(version="1.0"))

    # -- removals -------------------------------------------------------------------

    def _on_deleted(self, ticket: dict, message: Message, state: dict, context: Context) -> None:
        file_id = ticket["file"]["id"]
        if _drop_pending(state, file_id):
            self.tickets.drop(file_id)
        state["archived"].pop(file_id, None)
        state["archived_at"].pop(file_id, None)
        for flight in state["archiving"].values():
            if file_id in flight["files"]:
                flight["deleted"].append(file_id)  # aggregation goes on; the file is marked

    def _on_purged(self, ticket: dict, message: Message, state: dict, context: Context) -> str | None:
        file_id = ticket["file"]["id"]
        if file_id in state["archived"]:
            return None
        if _drop_pending(state, file_id):
            self.tickets.drop(file_id)
        return f"CACHE_PURGED for file {file_id} that is not archived yet: its data may be lost"

    # -- replies from the dispatcher ------------------------------------------------

    def _on_reply(self, message: Message, state: dict, context: Context) -> None:
        request_id = require_correlation(message)
        body = dispatcher.read_reply(message)
        if message.type == dispatcher.MDR_ARCHIVED:
            flight = state["archiving"].pop(request_id, None)
            if flight is not None:
                self._settle_archive(flight, body, state)
        elif message.type == dispatcher.MDR_STAGED:
            flight = state["staging"].pop(request_id, None)
            for result in body["files"] if flight is not None else []:
                if "error" in result:
                    failed = ["STAGE_FAILED", result["error"]]
                    self._release(result["id"], {"file": {"id": result["id"]}}, failed, state, context)

    def _settle_archive(self, flight: dict, body: dict, state: dict) -> None:
        done = {f["id"]: f for f in body["files"] if "error" not in f}  # per file, whatever the status
        for file_id, size in flight["files"].items():
            if file_id in done:
                state["archived"][file_id] = done[file_id]["container"]
                state["archived_at"][file_id] = time.time()  # in time order: see _forget_archived
                self.tickets.drop(file_id)
            elif file_id in flight["deleted"]:
                self.tickets.drop(file_id)
            else:  # failed: back to its group, tried again
                group = state["groups"].setdefault(
                    flight["key"], {"since": time.time(), "bytes": 0, "files": {}}
                )
                group["files"][file_id] = size
                group["bytes"] += size


def _count(state: dict, type_: str | None) -> None:
    """Messages handled, by type (``spoolq demo`` shows them)."""
    counts = state.setdefault("counts", {})
    counts[type_ or "?"] = counts.get(type_ or "?", 0) + 1


def _forget_archived(state: dict, before: float) -> None:
    """Forget files archived before ``before``.

    ``archived_at`` is kept in the order files were archived (JSON objects
    keep their order), so this stops at the first file young enough: the
    cost is the files forgotten, not the files remembered.
    """
    archived_at = state["archived_at"]
    expired = []
    for file_id, when in archived_at.items():
        if when >= before:
            break
        expired.append(file_id)
    for file_id in expired:
        del archived_at[file_id]
        state["archived"].pop(file_id, None)


def _in_flight(state: dict, file_id: str) -> bool:
    if any(file_id in g["files"] for g in state["groups"].values()):
        return True
    return any(file_id in f["files"] for f in state["archiving"].values())


def _drop_pending(state: dict, file_id: str) -> bool:
    """Take ``file_id`` out of its group; ``True`` if it was pending."""
    for key, group in list(state["groups"].items()):
        size = group["files"].pop(file_id, None)
        if size is not None:
            group["bytes"] -= size
            if not group["files"]:
                del state["groups"][key]
            return True
    return False
