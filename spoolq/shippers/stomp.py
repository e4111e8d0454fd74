"""``spoolq ship``: relay an outgoing spool to a broker, removing only what the broker took.

Each element is claimed (locked), sent ``persistent:true`` with a ``receipt``
header, and removed only when that receipt arrives.  Up to ``window`` sends
are in flight at once, so the cost is one round trip per window, not per
message; ``window = "auto"`` sizes it from the link
(:mod:`spoolq.shippers.send_window`).  A send whose receipt does not come within ``receipt_timeout`` is
unlocked and so sent again; when the connection is lost every send in flight
is unlocked.  A resent message may reach the far side twice: the receiver
drops duplicates by the ``spoolq-id`` header.  A message goes out as
:mod:`spoolq.shippers.frame_mapping` maps it: its header as frame headers,
its body (signed or encrypted, when configured) as the frame body.  Each
acknowledged send is recorded, bounded, in ``ROOT/.shippers/<name>.sent``
(:mod:`spoolq.shippers.sent_log`), so that ``spoolq find`` can say where a
message went and when.

A shipper that was killed (``kill -9``, a forced stop of ``spoolq run``) leaves
the locks of its sends in flight behind.  Each shipper registers as an owner
of its spool while it runs (:mod:`spoolq.spool.owners`): at each connect and every
``PURGE_INTERVAL`` seconds it takes over the claims of a dead owner at once
when no other owner lives (:mod:`spoolq.spool.takeover`), so a restarted shipper
sends them again without waiting.  Besides, no live shipper holds a lock
longer than ``send_timeout + receipt_timeout`` (then it is acked or
released), so locks older than twice that are taken back and their messages
sent again, whoever held them.  The same purge removes stale temporaries and
empty intermediate directories of the outgoing spool.

The broker destination comes from the message's ``to: COMPONENT@NODE``
header (the destination address's ``{node}``, see
:mod:`spoolq.shippers.destinations`).  An element that cannot be sent as it
is (too large, no node to send it to, a node that is no plain name, bytes
that fail to read or to parse in any way) is parked with the reason, and the
shipper goes on with the next one.  A message the broker refuses (an ERROR
frame naming it or its destination, see :mod:`spoolq.shippers.refusals`) is
sent again at most ``MAX_REFUSALS`` times, then parked with the broker's words.

Sends that stay without a receipt (a quorum queue without its majority takes
them and answers nothing) stay in the spool; after a few seconds of that
``spoolq stats`` shows the shipper ``waiting``, with the reason
(:mod:`spoolq.shippers.silence`), until a receipt comes.

An envelope goes out with one entry more on its trail (``shipped``, this
node, this shipper: :mod:`spoolq.trail`) in its header; a raw body
goes out byte for byte.  With ``dropbox`` (APEL SSM's ``path_type =
directory`` store), the complete files of that directory are moved into the
spool first (:mod:`spoolq.shippers.outgoing_directory`).

An idle shipper sleeps: the claimer on the spool's inotify watches, the
sending loop on the shipper's doorbell, rung when claims are ready, when the
receipts it waits for have come, at an ERROR frame, a lost connection or a
stop.  Its only timeout is the next thing due: the oldest send's
``receipt_timeout``, the next purge, a status change not yet written.  A
message put into the spool of a sleeping shipper is sent by the claimer's
thread, which has just read it, rather than by the loop it would wake.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from spoolq import envelope, trail
from spoolq.errors import MessageTooLarge, SpoolqError
from spoolq.message import MESSAGE_ID
from spoolq.routing import TO, Address
from spoolq.shippers.base import Shipper
from spoolq.shippers.claimer import Claimer
from spoolq.shippers.destinations import destination_for
from spoolq.shippers.frame_mapping import EMPA_ID, SPOOLQ_ID, parts_to_frame
from spoolq.shippers.link import Link
from spoolq.shippers.outgoing_directory import OutgoingDirectory
from spoolq.shippers.queue_types import queue_headers
from spoolq.shippers.refusals import Refusal, RefusalCount
from spoolq.shippers.security.seal import Sealer
from spoolq.shippers.send_window import send_window
from spoolq.shippers.sent_log import SentLog
from spoolq.shippers.silence import WAITING_AFTER, ReceiptSilence
from spoolq.shippers.status import STATE_DIR
from spoolq.spool import Claim
from spoolq.spool.owners import Ownership, register_owner
from spoolq.spool.parking import park
from spoolq.spool.reaper import Reaper
from spoolq.spool.takeover import take_over

log = logging.getLogger("spoolq.shippers")

PURGE_INTERVAL = 60.0  # seconds between looks for locks a killed shipper left


class StompShipper(Shipper):
    kind = "ship"

    @classmethod
    def from_config(cls, root, shipping, config, **settings) -> StompShipper:
        """The base's construction, with a :class:`Sealer` when ``sign`` or ``encrypt_to`` asks for one."""
        destination = shipping.destinations[config.destination]
        broker = shipping.brokers[destination.broker]
        sealer = Sealer(config.security, sign=config.sign, encrypt_to=config.encrypt_to)
        settings.pop("outgoing", None)  # a sender routes nothing
        sealer = sealer if sealer.active else None
        return cls(root, config, destination, broker, sealer=sealer, node=shipping.node, **settings)

    def __init__(self, *args, sealer=None, node: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.node = trail.local_node(node)  # in the trail's "shipped" entries
        self.spool = self.root.spool(self.config.spool)
        self.sealer = sealer
        self._queue_headers = queue_headers(self.destination.queue_type)
        # receipt -> (claim, when sent, destination, spoolq-id)
        self.in_flight: OrderedDict[str, tuple[Claim, float, str, str]] = OrderedDict()
        self.refused = RefusalCount()
        self.silence = ReceiptSilence(min(WAITING_AFTER, self.config.receipt_timeout))
        self.window = send_window(self.config.window)  # sends awaiting their receipt (maybe "auto")
        self._claimer: Claimer | None = None
        self._serial = 0
        self.stale_lock_age = 2 * (self.config.send_timeout + self.config.receipt_timeout)
        self._next_purge = 0.0
        self._reaper: Reaper | None = None
        self._link: Link | None = None
        self._ownership: Ownership | None = None
        self._counted_at: tuple[int, int, int, int] | None = None  # _activity() at the last backlog count
        self._sent_log: SentLog | None = None
        # Held by whoever sends and settles: pump, or the claimer sending for a pump that sleeps.
        self._sending = threading.Lock()
        self._pump_sleeps = False  # pump waits on the doorbell with nothing in flight

    def run(self, on_started: Callable[[], object] | None = None) -> None:
        # Sent elements are removed off this thread (spoolq.spool.reaper: on an ext4
        # disk the unlinks were most of the cost of a message).
        self._reaper = Reaper(f"shipper-{self.config.name}-reaper")
        self._ownership = register_owner(self.root.path, self.spool.name, 0, f"shipper {self.config.name}")
        self._sent_log = _open_sent_log(self.root.path, self.config.name)
        directory = None
        if self.config.dropbox is not None:  # SSM's path_type = directory: its files fed into the spool
            directory = OutgoingDirectory(self.config.dropbox, self.spool, self.config.name)
            directory.start()
        try:
            super().run(on_started)
        finally:
            if directory is not None:
                directory.stop()
            if self._sent_log is not None:
                self._sent_log.close()
            reaper, self._reaper = self._reaper, None
            reaper.close()
            if self._ownership is not None:
                self._ownership.close()

    # -- hooks ----------------------------------------------------------------------

    def on_connect(self, link: Link) -> None:
        self._link = link
        self.in_flight.clear()
        self.silence.reset()
        self._next_purge = 0.0  # look for leftover locks now, before the claimer's first pass
        self._purge_stale_locks()  # (taken back later, they would wait for its next pass)
        self._claimer = Claimer(
            self.spool,
            self.window.size,
            f"shipper-{self.config.name}-claimer",
            on_ready=functools.partial(self._claims_ready, link),
        )

    def pump(self, link: Link) -> bool:
        with self._sending:
            self._settle(link.take_receipts())
            self._refuse(link.take_refusals())
            self._expire()
            self._purge_stale_locks()
            taken = self._fill(link)
            if taken:
                return True
            timeout = self._sleep_limit()
            if self.in_flight:
                # Window full or spool empty: wait for an eighth of the window's receipts
                # (or all, when fewer are out), so the next fill sends a batch.
                wanted = min(len(self.in_flight), max(1, self.window.size // 8))
                self._settle(link.take_receipts(timeout, at_least=wanted))
                return False
        if timeout <= 0:
            return False
        # RACE: set before the wait; _claims_ready sends only while it is set, and under the lock.
        self._pump_sleeps = True
        try:
            rung = link.doorbell.wait(timeout)  # claims, an ERROR frame, a loss, stop()
        finally:
            self._pump_sleeps = False
        if not rung:
            return False
        with self._sending:
            return bool(self._fill(link))  # most likely claims: sent now, before the status is refreshed

    def _claims_ready(self, link: Link) -> None:
        """In the claimer's thread: claims are ready for a sender that found none.

        While pump sleeps with nothing in flight, they are sent from here at
        once: waking pump to send them cost a thread's wake-up on the way of
        every lone message (a request, its reply).  Then pump is woken all the
        same, to wait for their receipts; the SEND is on the wire by then.
        """
        try:
            if self._pump_sleeps and self._sending.acquire(blocking=False):
                try:
                    current = link is self._link and link.alive and not self.stopping.is_set()
                    if current and not self.in_flight:
                        self._fill(link)
                finally:
                    self._sending.release()
        except SpoolqError as exc:  # the send failed (its claims released): pump, rung below, reconnects
            self.status.last_error = str(exc)
        except Exception:  # noqa: BLE001  (never into the claimer's loop: it must go on claiming)
            log.exception("shipper %s: sending from the claimer failed", self.config.name)
            link.mark_lost()
        link.doorbell.ring()

    def _sleep_limit(self) -> float:
        """Seconds until something is due: the oldest send's receipt timeout, the purge, a status write."""
        now = time.monotonic()
        limit = self._next_purge - now
        if self.in_flight:
            _claim, sent_at, *_sent = next(iter(self.in_flight.values()))
            limit = min(limit, sent_at + self.config.receipt_timeout - now)
        for due in (self.publish_due_in(), self.silence.due_in(now) if self.in_flight else None):
            if due is not None:
                limit = min(limit, due)
        return max(0.0, limit)

    def on_disconnect(self) -> None:
        with self._sending:  # the claimer sends no more: closing it below joins its thread
            self._disconnect()

    def _disconnect(self) -> None:
        if self._link is not None:
            # A broker that refuses a message may close the connection right after its ERROR frame.
            self._refuse(self._link.take_refusals())
            self._link = None
        if self._claimer is not None:
            self._claimer.close()  # releases the claims not sent yet
            self._claimer = None
        for claim, *_sent in self.in_flight.values():
            _release(claim)
        self.in_flight.clear()
        self.silence.reset()
        self.window.trouble()  # the next connection may take another route

    def drain(self, link: Link) -> None:
        deadline = time.monotonic() + self.config.receipt_timeout
        with self._sending:
            while self.in_flight and link.alive and time.monotonic() < deadline:
                self._settle(link.take_receipts(0.1))

    def refresh_status(self) -> None:
        self.status.in_flight = len(self.in_flight)
        self._say_if_waiting()
        moved = self.status.state != "connected" or self._counted_at != self._activity()  # (retries count)
        if moved and self.status_file.due():
            self._counted_at = self._activity()
            self.status.backlog = self.spool.count()  # a listing: only when something moved since the last

    def _activity(self) -> tuple[int, int, int, int]:
        """What moves when the spool's content may have: sends, receipts, parkings, connections."""
        return self._serial, self.status.done, self.status.parked, self._connections

    def _say_if_waiting(self) -> None:
        """``waiting`` with the reason while the broker leaves the sends unanswered; ``connected`` after."""
        now, state = time.monotonic(), self.status.state
        if self.in_flight and self.silence.waiting(now) and state in ("connected", "waiting"):
            where = self._link.where if self._link is not None else "the broker"
            self.status.state = "waiting"
            self.status.reason = f"no receipt for {self.silence.seconds(now):.0f} s from {where}"
        elif state == "waiting":
            self.status.state, self.status.reason = "connected", ""

    # -- sending --------------------------------------------------------------------

    def _fill(self, link: Link) -> int:
        """Send ready claims until the window is full; the frames go out in one write.

        Returns how many claims were taken, sent or parked: when none, the
        claimer owes a ring of the doorbell at its next claim.
        """
        room = self.window.size - len(self.in_flight)
        if room <= 0 or self.stopping.is_set() or self._claimer is None:
            return 0
        batch = []
        taken = self._claimer.take(room, wake_me=not self.in_flight)
        for claim in taken:
            frame = self._frame(claim)
            if frame is not None:
                batch.append((claim, frame))
        if not batch:
            return len(taken)
        try:
            link.send_many([frame for _claim, frame in batch])
        except SpoolqError as exc:
            log.warning("shipper %s: send failed: %s", self.config.name, exc)
            for claim, _frame in batch:
                _release(claim)
            raise
        now = time.monotonic()
        for claim, frame in batch:
            self.in_flight[frame[2]["receipt"]] = (claim, now, frame[0], frame[2][SPOOLQ_ID])
        self.silence.sent(now)
        self.window.sent(len(batch), sum(len(frame[1]) for _claim, frame in batch), full=len(taken) == room)
        return len(taken)

    def _frame(self, claim: Claim) -> tuple[str, bytes, dict[str, str]] | None:
        """The SEND frame for an element, or ``None`` when it was parked instead.

        This is the boundary around one element: whatever fails while it is in
        hand (a ``RecursionError`` from a deeply nested envelope as much as a
        :class:`SpoolqError`) parks that element, never stops the shipper.
        """
        try:
            data = claim.read()
            # MalformedMessage: parked with that reason.  The body stays bytes, never built as text.
            header, body, text = envelope.decode_parts(data)
            destination, spoolq_id = self._address(header, data)
            if header:  # an envelope: one hop more on its trail (a raw body goes as it is)
                header = trail.stamp(header, trail.SHIPPED, self.node, f"shipper={self.config.name}")
            body, headers = parts_to_frame(header, body, text)  # header on the frame, body as body
            if self.sealer is not None:
                body = self.sealer.seal(body)
            if len(body) > self.config.max_size:
                raise MessageTooLarge(
                    f"message of {len(body)} bytes is larger than shippers.{self.config.name}.max_size"
                    f" ({self.config.max_size}); not sent"
                )
        except SpoolqError as exc:
            self._park(claim, str(exc))
            return None
        except Exception as exc:  # noqa: BLE001  (the per-element boundary: see the docstring)
            self._park(claim, f"cannot read the message to send it: {type(exc).__name__}: {exc}"[:1000])
            return None
        self._serial += 1
        receipt = f"{self.status.pid}-{self._serial}"
        headers["persistent"] = "true"  # made for this send: added to, not copied
        headers["receipt"] = receipt
        headers[SPOOLQ_ID] = spoolq_id
        headers[EMPA_ID] = claim.name
        if self._queue_headers:
            headers.update(self._queue_headers)  # on every SEND: RabbitMQ refuses one without them
        return destination, body, headers

    def _address(self, header: Mapping[str, str], data: bytes) -> tuple[str, str]:
        """The broker destination and the id the receiver deduplicates by (else the element's digest)."""
        address = self.destination.address
        if "{node}" in address:
            to = header.get(TO)
            target = _address_of(to) if to else None
            address = _destination_of(address, target.node if target is not None else None)
        spoolq_id = header.get(MESSAGE_ID) or hashlib.sha1(data).hexdigest()
        return address, spoolq_id

    def _park(self, claim: Claim, reason: str, attempts: int = 0) -> None:
        """Set the element aside with ``reason``; if even that fails it is unlocked, tried again later."""
        log.error("shipper %s: parking %s: %s", self.config.name, claim.where, reason)
        self.refused.forget(claim.name)
        try:
            park(self.root, self.spool.name, claim.read(), reason, element=claim.name, attempts=attempts)
            claim.ack()
        except Exception as exc:  # noqa: BLE001  (whatever stops the parking, the shipper goes on)
            log.error("shipper %s: cannot park %s, left in the spool: %s", self.config.name, claim.where, exc)
            self.status.last_error = f"cannot park {claim.where}: {exc}"
            self._unlock(claim)
            return
        self.status.parked += 1

    def _purge_stale_locks(self) -> None:
        """Take back the locks of a killed shipper (see the module's docstring), when due."""
        now = time.monotonic()
        if now < self._next_purge:
            return
        self._next_purge = now + PURGE_INTERVAL
        if self._ownership is not None:
            try:
                # No handler runs here, so no element is ever in hand: nothing is counted as poison.
                take_over(self.spool, self.root, self._ownership, max_attempts=1)
            except Exception:  # a disk error must not stop the shipper; the lock age still frees them
                log.exception("shipper %s: taking over dead shippers' claims failed", self.config.name)
        try:
            report = self.spool.purge(max_lock_age=self.stale_lock_age)
        except OSError as exc:
            log.error("shipper %s: purge of %s failed: %s", self.config.name, self.spool.path, exc)
            return
        if self._claimer is not None:
            self._claimer.poke()  # claims taken over or unlocked: no inotify event says so
        if report.unlocked:
            log.warning(
                "shipper %s: unlocked %d stale claim(s) older than %g s; sending them again",
                self.config.name, report.unlocked, self.stale_lock_age,
            )  # fmt: skip

    # -- receipts and refusals -------------------------------------------------------

    def _settle(self, receipts: list[str]) -> None:
        in_flight, reaper, done, sent = self.in_flight, self._reaper, 0, []
        now, window = time.monotonic(), self.window
        for receipt in receipts:
            entry = in_flight.pop(receipt, None)
            if entry is None:
                continue  # a receipt for a send we already gave up on
            window.receipted(now - entry[1])
            claim = entry[0]
            sent.append((entry[3], entry[2], claim.name))
            if self.refused:
                self.refused.forget(claim.name)
            try:
                claim.ack(reaper)
            except SpoolqError as exc:
                log.warning("shipper %s: %s already gone: %s", self.config.name, claim.where, exc)
            done += 1
        self.status.done += done
        if done:
            self.silence.answered(time.monotonic(), bool(in_flight))
        if self._claimer is not None and self._claimer.depth != window.size:
            self._claimer.resize(window.size)  # "auto" moved: read as far ahead as it sends
        if sent and self._sent_log is not None:
            self._sent_log.add_many(sent)  # for `spoolq find`: where each message went, and when

    def _refuse(self, refusals: list[Refusal]) -> None:
        """Count each send in flight that the broker's ERROR frames name; park it at the limit.

        Below the limit a refused send is unlocked (so sent again) at once
        rather than after ``receipt_timeout``: no receipt will come for it.
        """
        for refusal in refusals:
            in_flight = self.in_flight
            for receipt in [r for r, entry in in_flight.items() if refusal.names(r, entry[2])]:
                claim, _sent_at, destination, _id = self.in_flight.pop(receipt)
                self.window.trouble()
                if self.refused.add(claim.name):
                    self._park(
                        claim,
                        f"the broker refused it {self.refused.limit} times (destination {destination!r}):"
                        f" {refusal.words}",
                        attempts=self.refused.limit,
                    )
                else:
                    self.warnings.warning(
                        f"refused {destination} {refusal.words}",
                        f"shipper {self.config.name}: the broker refused a send to {destination!r}:"
                        f" {refusal.words}; sending it again",
                    )  # one line while the same refusal repeats, then a count
                    self._unlock(claim)

    def _expire(self) -> None:
        """Sends without a receipt for too long are unlocked, hence sent again."""
        limit = time.monotonic() - self.config.receipt_timeout
        while self.in_flight:
            receipt, (claim, sent_at, *_sent) = next(iter(self.in_flight.items()))
            if sent_at > limit:
                break
            log.warning("shipper %s: no receipt for %s; sending again", self.config.name, claim.where)
            del self.in_flight[receipt]
            self.window.trouble()
            self._unlock(claim)

    def _unlock(self, claim: Claim) -> None:
        """Release ``claim`` to be sent again, and tell the claimer: no inotify event says so."""
        _release(claim)
        if self._claimer is not None:
            self._claimer.poke()


@functools.lru_cache(maxsize=1024)
def _address_of(text: str) -> Address:
    """``Address.parse``, once per distinct ``to`` (an outgoing spool holds few destinations)."""
    return Address.parse(text)


#: ``destination_for``, once per distinct node: its checks cost about 5 us a call, and an outgoing
#: spool holds few nodes.
_destination_of = functools.lru_cache(maxsize=1024)(destination_for)


def _open_sent_log(root_path: str, name: str) -> SentLog | None:
    """The shipper's record of sends, or ``None`` (logged) when ``ROOT/.shippers`` cannot be written."""
    try:
        return SentLog(os.path.join(root_path, STATE_DIR), name)
    except OSError as exc:
        log.warning("shipper %s: cannot record sent messages for `spoolq find`: %s", name, exc)
        return None


def _release(claim: Claim) -> None:
    try:
        claim.release()
    except SpoolqError:
        pass
