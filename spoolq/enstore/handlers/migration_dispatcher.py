"""Migration Dispatcher: stores commands, splits them into worker parts, sees them done.

Serves ``md`` (``MDC_*`` commands from the Policy Engine, and ``TICK``) and
``md_reply`` (worker replies); both may run in different processes and share
``ROOT/.state/md.json``.  Each command is saved, then acknowledged (its input
removed), and executed asynchronously as parts on the shared worker spool
``mw``.  A part whose worker is silent for ``silence`` seconds is asked for
status on the worker's own spool; unanswered after ``silence`` more seconds,
or answered "not working on it", the part is dispatched again (at most
``max_dispatches`` times).  When all parts are done the requester gets one
``MDR_*`` reply carrying the command's id as correlation id.

Options: ``worker_spool`` (``mw``), ``reply_spool`` (``md_reply``),
``part_files`` (files per archive part, 500), ``silence`` (5 s),
``max_dispatches`` (5).
"""

from __future__ import annotations

import time

from spoolq.component import timer
from spoolq.enstore.catalogue import dispatcher, worker
from spoolq.enstore.catalogue.fields import OK, build, require_correlation
from spoolq.enstore.state import StateFile
from spoolq.errors import Reject
from spoolq.handlers.base import Context, Handler
from spoolq.message import Message

WORKER_COMMAND = {
    dispatcher.MDC_ARCHIVE: worker.MWC_ARCHIVE,
    dispatcher.MDC_STAGE: worker.MWC_STAGE,
    dispatcher.MDC_PURGE: worker.MWC_PURGE,
}


class MigrationDispatcher(Handler):
    name = "migration_dispatcher"

    def setup(self, context: Context) -> None:
        self.state = StateFile(
            context.root.path, self.options.get("state_name", "md"), durable=context.root.durable
        )
        self.worker_spool = self.options.get("worker_spool", "mw")
        self.reply_spool = self.options.get("reply_spool", "md_reply")
        self.part_files = int(self.options.get("part_files", 500))
        self.silence = float(self.options.get("silence", 5.0))
        self.max_dispatches = int(self.options.get("max_dispatches", 5))

    def teardown(self) -> None:
        self.state.close()

    def handle(self, message: Message, context: Context) -> None:
        type_ = message.type
        with self.state.change() as state:
            state.setdefault("requests", {})
            state.setdefault("parts", {})
            if type_ in dispatcher.COMMANDS:
                self._accept(message, state, context)
            elif worker.canonical(type_, reply=True) in worker.REPLIES:
                self._on_worker_reply(message, state, context)
            elif type_ != timer.TICK:
                raise Reject(f"migration dispatcher does not handle {type_!r}")
            self._check_silent_parts(state, context, time.time())
            counts = state.setdefault("counts", {})
            counts[type_ or "?"] = counts.get(type_ or "?", 0) + 1

    # -- commands -------------------------------------------------------------------

    def _accept(self, message: Message, state: dict, context: Context) -> None:
        files = dispatcher.read_command(message)
        request_id = message.message_id or ""
        if request_id in state["requests"]:
            return  # the same command delivered twice: already stored
        parts = self._split(message.type or "", files)
        part_ids = [f"{request_id[:16]}-{n}" for n in range(len(parts))]
        state["requests"][request_id] = {
            "type": message.type,
            "reply_to": message.reply_to or "pe_reply",
            "parts": part_ids,
        }
        now = time.time()
        for part_id, (command_type, part_files, extra) in zip(part_ids, parts, strict=True):
            part = {"request": request_id, "type": command_type, "files": part_files, "extra": extra}
            part.update(sent=now, heard=None, worker=None, spool=None, asked=None, dispatches=0, result=None)
            state["parts"][part_id] = part
            self._dispatch(part_id, part, context, now)

    def _split(self, type_: str, files: list[dict]) -> list[tuple[str, list[dict], dict]]:
        """Worker parts: stage by container; archive and purge in chunks of ``part_files``."""
        command_type = WORKER_COMMAND[type_]
        if type_ == dispatcher.MDC_STAGE:
            by_container: dict[str, list[dict]] = {}
            for ticket in files:
                by_container.setdefault(ticket["enstore"]["bfid"], []).append(ticket)
            return [(command_type, group, {"container": c}) for c, group in sorted(by_container.items())]
        size = max(1, self.part_files)
        return [(command_type, files[i : i + size], {}) for i in range(0, len(files), size)]

    def _dispatch(self, part_id: str, part: dict, context: Context, now: float) -> None:
        part.update(sent=now, heard=None, worker=None, spool=None, asked=None)
        part["dispatches"] += 1
        command = worker.command(
            part["type"], part_id, part["files"], reply_to=self.reply_spool, **part["extra"]
        )
        context.emit(self.worker_spool, command)

    # -- worker replies -------------------------------------------------------------

    def _on_worker_reply(self, message: Message, state: dict, context: Context) -> None:
        type_, body = worker.read_reply(message)
        require_correlation(message)
        part_id = body.get("asked") or body.get("part") or ""
        part = state["parts"].get(part_id)
        if part is None or part["result"] is not None:
            return  # a late answer for a finished or unknown part
        now = time.time()
        if type_ != worker.MWR_STATUS:
            part["result"] = {"status": body["status"], "files": body["files"], "worker": body["worker"]}
            self._finish_request_if_done(part["request"], state, context)
        elif body.get("state") in ("started", "working") and body.get("part") == part_id:
            part.update(
                heard=now, worker=body["worker"], spool=body.get("spool") or part["spool"], asked=None
            )
        elif part["worker"] == body["worker"]:  # its worker is alive but moved on without finishing
            self._dispatch(part_id, part, context, now)

    def _finish_request_if_done(self, request_id: str, state: dict, context: Context) -> None:
        request = state["requests"][request_id]
        parts = [state["parts"][p] for p in request["parts"]]
        if any(p["result"] is None for p in parts):
            return
        files = [f for p in parts for f in p["result"]["files"]]
        errors = [p["result"]["status"] for p in parts if p["result"]["status"][0] != OK[0]]
        status = OK if not errors else [errors[0][0], "; ".join(e[1] for e in errors)]
        reply_type = dispatcher.REPLY_OF[request["type"]]
        answer = build(reply_type, {"status": status, "files": files}, correlation_id=request_id)
        context.emit(request["reply_to"], answer)
        for part_id in request["parts"]:
            del state["parts"][part_id]
        del state["requests"][request_id]

    # -- silence --------------------------------------------------------------------

    def _check_silent_parts(self, state: dict, context: Context, now: float) -> None:
        """Ask silent workers for status; re-dispatch parts nobody answers for."""
        for part_id, part in list(state["parts"].items()):
            if part_id not in state["parts"] or part["result"] is not None:
                continue
            last = part["heard"] or part["sent"]
            if part["asked"] is not None and now - part["asked"] > self.silence:
                self._redispatch_or_fail(part_id, part, state, context, now)
            elif part["asked"] is None and now - last > self.silence:
                if part["spool"]:
                    query = worker.status_query(part_id, reply_to=self.reply_spool)
                    context.emit(part["spool"], query)
                    part["asked"] = now
                elif now - last > 10 * self.silence:  # never picked up: workers may be gone
                    self._redispatch_or_fail(part_id, part, state, context, now)

    def _redispatch_or_fail(
        self, part_id: str, part: dict, state: dict, context: Context, now: float
    ) -> None:
        if part["dispatches"] < self.max_dispatches:
            context.log.warning("part %s: worker %s silent, dispatching again", part_id, part["worker"])
            self._dispatch(part_id, part, context, now)
            return
        files = [{"id": t["file"]["id"], "error": "no worker finished it"} for t in part["files"]]
        part["result"] = {"status": ["TIMEDOUT", f"part {part_id} not done"], "files": files, "worker": ""}
        self._finish_request_if_done(part["request"], state, context)
