"""Migration Worker: packs, stages and purges file lists (spool ``mw``; status on ``mw_<id>``).

Several workers share the work spool ``mw``; each also serves its own spool
``mw_<worker_id>`` where the dispatcher asks ``MWC_STATUS``.  Progress lives in
``ROOT/.state/mw_<worker_id>.json`` so that the status answer is right even
when the two spools are served by different processes.

Options: ``worker_id``, ``archive`` (directory standing in for tape),
``cache`` (cache mount for tickets without ``cache.en``), ``copy_command``
(argv template in the role of ``encp``, default a Python copy), ``scratch``,
``pe_spool`` (where ``CACHE_STAGED`` and ``CACHE_PURGED`` go: ``pe``, or
``pe@NODE`` when the Policy Engine runs on another node).

On a node with a name (``node`` in the configuration) the worker announces
its status spool as ``mw_<worker_id>@NODE`` and sends its "started" notice
the way replies go, so a dispatcher on another node reaches it and hears it.
"""

from __future__ import annotations

import os
import tarfile
import time

from spoolq.enstore import containers, filedb
from spoolq.enstore.cachefs import CacheError, cached_path
from spoolq.enstore.catalogue import events, worker
from spoolq.enstore.catalogue.fields import OK
from spoolq.enstore.state import StateFile
from spoolq.errors import Reject
from spoolq.handlers.base import Context, Handler
from spoolq.message import Message
from spoolq.routing import Address, Router
from spoolq.spool.atomic_file import write_atomically


class MigrationWorker(Handler):
    name = "migration_worker"

    def setup(self, context: Context) -> None:
        self.worker_id = str(self.options.get("worker_id") or f"w{os.getpid()}")
        self.archive = os.path.abspath(self.options["archive"])
        self.cache = self.options.get("cache")
        self.copy_command = self.options.get("copy_command")
        self.scratch = self.options.get("scratch") or os.path.join(
            context.root.path, ".scratch", self.worker_id
        )
        os.makedirs(self.scratch, exist_ok=True)
        self.pe_spool = str(Address.parse(str(self.options.get("pe_spool", "pe"))))  # refused at start if bad
        self.router = Router(context.node)
        self.progress = StateFile(context.root.path, f"mw_{self.worker_id}", durable=False)
        self.packing_seconds = 0.0  # time inside pack/store/fetch/unpack, for the benchmark
        self.counts: dict[str, int] = {}  # commands done, by type

    def _cached(self, ticket: dict) -> str:
        """The cache path of a ticket's file, never outside the configured cache."""
        return cached_path(ticket, self.cache, inside=self.cache)

    @property
    def status_spool(self) -> str:
        """The address of its status spool, as the dispatcher (maybe on another node) must write it."""
        spool = f"mw_{self.worker_id}"
        return f"{spool}@{self.router.node}" if self.router.node else spool

    def teardown(self) -> None:
        self.progress.close()

    def handle(self, message: Message, context: Context) -> Message:
        type_, body = worker.read_command(message)
        if type_ == worker.MWC_STATUS:
            progress = {"worker": self.worker_id, "spool": self.status_spool, **self.progress.load()}
            return worker.reply(message, OK, {**progress, "asked": body.get("part")})
        self._announce(message, body["part"], len(body["files"]), context)
        action = {worker.MWC_ARCHIVE: self._archive, worker.MWC_STAGE: self._stage}.get(type_, self._purge)
        try:
            status, files = action(body, context)
        except CacheError as exc:  # a ticket pointing outside the cache: bad input, park it
            self._set_progress(None, "idle", 0)
            raise Reject(str(exc)) from None
        self.counts[type_] = self.counts.get(type_, 0) + 1
        self._set_progress(None, "idle", 0)
        return worker.reply(message, status, {"part": body["part"], "worker": self.worker_id, "files": files})

    def _announce(self, message: Message, part: str, total: int, context: Context) -> None:
        """Tell the dispatcher at once (not at the end) who works on ``part`` and where to ask."""
        self._set_progress(part, "working", total)
        started = {"worker": self.worker_id, "part": part, "state": "started", "spool": self.status_spool}
        notice = Router.reply_address(message, worker.reply(message, OK, started, progress=True))
        context.root.spool(self.router.route(notice, "md_reply")).put(notice)

    def _set_progress(self, part: str | None, state: str, total: int) -> None:
        self.progress.save(
            {
                "pid": os.getpid(),
                "part": part,
                "state": state,
                "total": total,
                "updated": time.time(),
                "counts": self.counts,
                "packing_seconds": round(self.packing_seconds, 6),
            }
        )

    # -- archive --------------------------------------------------------------------

    def _archive(self, body: dict, context: Context) -> tuple[list[str], list[dict]]:
        part = body["part"]
        container = os.path.join(self.archive, f"{part}.tar")
        if os.path.exists(container):  # a re-dispatched part that is already done
            return OK, self._describe_existing(container, body["files"])
        members, missing = [], []
        for ticket in body["files"]:
            try:
                with open(self._cached(ticket), "rb") as handle:
                    members.append((ticket["file"]["id"], handle.read()))
            except OSError as exc:
                missing.append({"id": ticket["file"]["id"], "error": f"not in cache: {exc.strerror}"})
        if not members:
            return ["NOT_IN_CACHE", "no listed file is in the cache"], missing
        started = time.perf_counter()
        scratch = os.path.join(self.scratch, f"{part}.tar")
        checksums = containers.pack(members, scratch)
        containers.store(scratch, container, self.copy_command)
        os.unlink(scratch)
        self.packing_seconds += time.perf_counter() - started
        archived = []
        for member, data in members:
            location = {"container": f"{part}.tar", "member": member, "crc_adler32": checksums[member]}
            filedb.record(self.archive, member, {**location, "size": len(data)})
            archived.append({"id": member, **location})
        return OK, archived + missing

    def _describe_existing(self, container: str, tickets: list[dict]) -> list[dict]:
        located = []
        for ticket in tickets:
            record = filedb.locate(self.archive, ticket["file"]["id"])
            if record and record["container"] == os.path.basename(container):
                located.append({"id": ticket["file"]["id"], **record})
            else:
                located.append({"id": ticket["file"]["id"], "error": "not in the finished container"})
        return located

    # -- stage ----------------------------------------------------------------------

    def _stage(self, body: dict, context: Context) -> tuple[list[str], list[dict]]:
        tickets = {t["enstore"]["location_cookie"]: t for t in body["files"]}
        wanted = {member: t["file"]["crc_adler32"] for member, t in tickets.items()}
        scratch = os.path.join(self.scratch, f"stage-{body['part']}.tar")
        started = time.perf_counter()
        try:
            containers.fetch(
                os.path.join(self.archive, os.path.basename(body["container"])), scratch, self.copy_command
            )
            found = containers.unpack(scratch, wanted)
        except (containers.ContainerError, OSError, tarfile.TarError) as exc:
            found = {member: containers.ContainerError(str(exc)) for member in wanted}
        finally:
            if os.path.exists(scratch):
                os.unlink(scratch)
        self.packing_seconds += time.perf_counter() - started
        files, failures = [], 0
        for member, data in found.items():
            ticket = tickets[member]
            if isinstance(data, Exception):
                failures += 1
                files.append({"id": ticket["file"]["id"], "error": str(data)})
                continue
            path = self._cached(ticket)
            write_atomically(path, data, durable=False)
            staged = dict(ticket, cache={**ticket["cache"], "en": _entry_of(path, ticket, self.cache)})
            context.emit(self.pe_spool, events.cache_staged(staged))
            files.append({"id": ticket["file"]["id"], "path": path})
        status = OK if not failures else ["CRC_MISMATCH", f"{failures} of {len(found)} files not served"]
        return status, files

    # -- purge ----------------------------------------------------------------------

    def _purge(self, body: dict, context: Context) -> tuple[list[str], list[dict]]:
        files, refused = [], 0
        for ticket in body["files"]:
            file_id = ticket["file"]["id"]
            if filedb.locate(self.archive, file_id) is None:
                refused += 1
                files.append({"id": file_id, "error": "not archived; cache copy kept"})
                continue
            try:
                os.unlink(self._cached(ticket))
            except FileNotFoundError:
                pass
            context.emit(self.pe_spool, events.cache_purged(ticket))
            files.append({"id": file_id})
        status = OK if not refused else ["NOT_ARCHIVED", f"{refused} files not archived, kept"]
        return status, files


def _entry_of(path: str, ticket: dict, mount: str | None) -> dict:
    entry = ticket["cache"].get("en")
    if entry:
        return entry
    base = os.path.abspath(mount or os.path.dirname(path))
    relative = os.path.relpath(os.path.dirname(path), base)
    return {"node": "localhost", "mount": base, "path": relative, "name": os.path.basename(path)}
