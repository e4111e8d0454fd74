"""``spoolq receive``: subscribe to this node's destination and write what arrives into spools.

Subscribed with the destination's ack mode (``client-individual`` by default)
and a bounded prefetch (``prefetch-count`` for RabbitMQ and
``activemq.prefetchSize`` for ActiveMQ/Artemis).  stomp.py's reader thread
queues frames; this loop takes them in batches and, per batch:

1. drops (and acks) redelivered duplicates, by the ``spoolq-id`` header;
2. opens signed/encrypted bodies (when ``verify`` is on), rebuilds each
   message from its frame by the frame's own headers, never by guessing
   from its body (:mod:`spoolq.shippers.frame_mapping`: a spoolq sender's
   message exactly as sent, a foreign frame's body as it came), routes each
   message by its ``to: COMPONENT@NODE`` header (see :mod:`spoolq.routing`),
   adding the signer's DN (``signer-dn``) and the sender's ``empa-id`` to its
   header (the latter only for verified messages and for frames from senders
   other than spoolq, so that spoolq's unsigned messages are stored as sent);
   a message that fails is parked with the reason (and then acked).  Any
   failure while one frame is in hand counts, whatever its type (a
   ``RecursionError`` from a deeply nested envelope too): the frame is
   parked and acked, and the frames behind it are written as usual;
3. writes the batch durably (one filesystem sync), records the ids, counts
   them ``done``, and only then acks.  A failed write is never acked: the
   connection is dropped and the broker redelivers after the reconnect.  An
   ack lost with the connection (a broker going down) changes nothing of
   that count: the redelivered frames are dropped as duplicates.

At start every spool of the root is swept for temporaries a killed receiver
left (:mod:`spoolq.spool.output_sweep`): a ``to`` header may have sent its
predecessor's writes to any of them.  Then every ``SWEEP_INTERVAL`` the spools
this run has written to are swept again.

A receiver is ``connected`` in ``spoolq stats`` only once the broker answered
its SUBSCRIBE with a receipt: consuming.  When the broker cancels the
subscription (RabbitMQ's ``Server cancelled subscription``, when the queue is
deleted or its node is lost) the connection stays open but delivers nothing:
the receiver shows ``not consuming`` with the reason, and reconnects to
subscribe again.  A new connection it must be: RabbitMQ remembers that the
old one declared the queue, so a second SUBSCRIBE there would not declare it
again (``NOT_FOUND - no queue``).  A SUBSCRIBE the broker refuses closes the
connection; either way the backoff paces the attempts.

An idle receiver sleeps on the shipper's doorbell, which the reader thread
rings when a frame arrives for a loop that waits (once per wait, not per
frame), and the link when the connection is lost; its only timeout is the
next sweep or a status change not yet written.  A frame that comes alone to
a sleeping loop (a request waiting for its answer) is written by the reader
thread itself, in the same way, saving a thread's wake-up on its way to the
component; frames that come together still go to the loop, one batch and one
sync for them all.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

from spoolq import envelope, trail
from spoolq.errors import BrokerUnavailable, ConfigError, MalformedMessage, SecurityError, SpoolqError
from spoolq.routing import Router
from spoolq.shippers.base import Shipper
from spoolq.shippers.frame_mapping import EMPA_ID, SPOOLQ_ID, as_parked, from_frame, is_from_spoolq
from spoolq.shippers.link import Link
from spoolq.shippers.queue_types import queue_headers
from spoolq.shippers.recent_ids import RecentIds
from spoolq.shippers.security.seal import SIGNER_DN, Opener, SignerRefused
from spoolq.shippers.ssm_store import SsmStore
from spoolq.shippers.status import NOT_CONSUMING, STATE_DIR
from spoolq.spool.output_sweep import OutputSweep
from spoolq.spool.parking import park

log = logging.getLogger("spoolq.shippers")

MAX_EMPA_ID = 255  # SSM's ids are dirq element names, 23 characters
SWEEP_INTERVAL = 60.0  # seconds between sweeps of the spools written to (spoolq.spool.output_sweep)
#: Seconds since the previous frame after which a frame counts as alone: written by the reader thread.
ALONE_AFTER = 0.002
#: Test hook: exit at once (no ack) right after a batch is written, as ``kill -9`` would.
EXIT_AFTER_WRITE = "SPOOLQ_TEST_EXIT_AFTER_WRITE"


class StompReceiver(Shipper):
    kind = "receive"

    @classmethod
    def from_config(cls, root, shipping, config, *, outgoing="outgoing", **settings) -> StompReceiver:
        """The base's construction, with the node's router and, for ``verify``, an :class:`Opener`."""
        destination = shipping.destinations[config.destination]
        if "{node}" in destination.address and not shipping.node:
            raise ConfigError(
                f"{shipping.path}: key 'node' is required: destination {destination.name} uses {{node}}"
            )
        broker = shipping.brokers[destination.broker]
        opener = Opener(config.security) if config.verify else None
        # A pool's receivers take COMPONENT@POOL from the pool's shared queue, as if they were POOL.
        router = Router(config.pool or shipping.node, outgoing)
        ssm_store = None
        if config.ssm_store:
            if not config.verify:
                raise ConfigError(
                    f"{shipping.path}: shippers.{config.name}.ssm_store needs verify = true"
                    " (SSM's incoming store holds verified messages and their signer)"
                )
            ssm_store = SsmStore(config.ssm_store)
        return cls(
            root, config, destination, broker, router=router, opener=opener, ssm_store=ssm_store, **settings
        )

    def __init__(self, *args, router: Router, opener=None, ssm_store: SsmStore | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.router = router
        self.node = trail.local_node(router.node)  # in the trail's "received" entries
        self.opener = opener
        self.ssm_store = ssm_store
        self.frames: deque = deque()  # (link, frame) queued by stomp.py's reader thread
        self._waiting = False  # pump sleeps on the doorbell for a frame
        self._writing = threading.Lock()  # held by whoever writes frames: pump, or the reader (a lone frame)
        self._last_frame_at = 0.0  # when the reader thread last had a frame
        self.recent = RecentIds(
            os.path.join(self.root.path, STATE_DIR, f"{self.config.name}.ids"), self.config.dedup_window
        )
        self._link: Link | None = None
        self._subscriptions = 0  # SUBSCRIBE frames sent: each one's receipt
        self._written: set[str] = {self.config.spool}  # the spools this receiver writes to
        self._sweep = OutputSweep(self._output_spools, SWEEP_INTERVAL, f"receiver {self.config.name}")

    def address(self) -> str:
        return self.destination.address.format(node=self.router.node)

    # -- hooks ----------------------------------------------------------------------

    def make_link(self) -> Link:
        link = super().make_link()

        def on_message(frame) -> None:  # in stomp.py's reader thread
            if self._receive_alone(link, frame):
                return
            self.frames.append((link, frame))  # for pump, tagged with its link
            if self._waiting:  # RACE: appended first; pump sets _waiting, then looks again
                self.doorbell.ring()

        link.on_message = on_message
        return link

    def on_connect(self, link: Link) -> None:
        self._link = link
        self._subscribe(link)

    def pump(self, link: Link) -> bool:
        if link.cancelled is not None:
            self._not_consuming(link)
            return False
        self._sweep.maybe()
        batch = self._take_batch(link)
        if batch:
            with self._writing:
                self._receive(link, batch)
        return bool(batch)

    def drain(self, link: Link) -> None:
        """Stopping: a frame the reader thread is writing is written and acked before the link closes."""
        with self._writing:
            pass

    def on_disconnect(self) -> None:
        # Frames of the lost connection cannot be acked any more; the broker redelivers them.
        self.frames.clear()

    def refresh_status(self) -> None:
        self.status.backlog = len(self.frames)  # received, not yet written

    def run(self, on_started: Callable[[], object] | None = None) -> None:
        # Before any connection: a killed predecessor's temporaries go now, wherever it wrote.
        OutputSweep(self._every_spool, 0.0, f"receiver {self.config.name}").sweep()
        try:
            super().run(on_started)
        finally:
            self.recent.close()

    # -- the subscription -----------------------------------------------------------

    def _subscribe(self, link: Link) -> None:
        """SUBSCRIBE and wait for the broker's receipt: only then is this receiver consuming.

        Raises :class:`BrokerUnavailable` when no receipt comes within
        ``connect_timeout`` (a refusing broker closes the connection instead).
        """
        self._subscriptions += 1
        receipt = f"subscribe-{self.status.pid}-{self._subscriptions}"
        d = self.destination
        headers = {**queue_headers(d.queue_type), "receipt": receipt}
        link.subscribe(self.address(), d.ack, d.prefetch, headers)
        deadline = time.monotonic() + self.broker.connect_timeout
        receipts: list[str] = []
        while receipt not in receipts and link.alive and not self.stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            receipts += link.take_receipts(left, at_least=1)
        if receipt not in receipts:
            if self.stopping.is_set():
                return
            why = link.error or f"no receipt within {self.broker.connect_timeout:g} s"
            raise BrokerUnavailable(f"{link.where}: SUBSCRIBE to {self.address()} not confirmed: {why}")

    def _not_consuming(self, link: Link) -> None:
        """The broker ended the subscription: say so, and drop the connection to subscribe on a new one."""
        self.status.state = NOT_CONSUMING
        why = link.cancelled
        self.status.last_error = f"the broker cancelled the subscription to {self.address()}: {why}"
        self.status.reason = self.status.last_error
        self.refresh_status()
        self.publish(force=True)
        text = f"receiver {self.config.name}: not consuming; reconnecting to subscribe again"
        self.warnings.warning("subscription cancelled", text)
        link.mark_lost()

    # -- receiving ------------------------------------------------------------------

    def _receive_alone(self, link: Link, frame) -> bool:
        """In the reader thread: write a frame that came alone at once; ``False`` to queue it for pump.

        A request waiting for its answer comes alone; handing it to the
        sleeping pump cost a thread's wake-up on the way to the component
        (0.6 ms of a request and its reply across two nodes at 10 ms, p50).
        Only when pump sleeps with nothing queued (so the order holds) and the
        previous frame is ``ALONE_AFTER`` old: frames that come together go to
        pump, which writes them as one batch with one sync.
        """
        now = time.monotonic()
        alone = now - self._last_frame_at > ALONE_AFTER
        self._last_frame_at = now
        if not (alone and self._waiting and not self.frames and link is self._link and link.alive):
            return False
        if not self._writing.acquire(blocking=False):
            return False
        if self.stopping.is_set():  # RACE: drain() takes the lock once stopping is set, then closes
            self._writing.release()
            return False
        try:
            clean = self.publish_due_in() is None
            self._receive(link, [frame])
        except SpoolqError as exc:  # the ack failed: the link is lost, the loop reconnects and says so
            self.status.last_error = str(exc)
            return True
        except Exception:  # noqa: BLE001  (never into stomp.py's reader: the broker redelivers)
            log.exception("receiver %s: cannot write a frame; reconnecting", self.config.name)
            link.mark_lost()
            return True
        finally:
            self._writing.release()
        if clean:  # pump sleeps past the status change: wake it to publish in time
            self.doorbell.ring()
        return True

    def _take_batch(self, link: Link) -> list:
        """Up to ``prefetch`` frames queued for ``link``; sleeps on the doorbell while there are none."""
        frames = self.frames
        if not frames:
            self._waiting = True
            if not frames and link.alive and not self.stopping.is_set():
                self.doorbell.wait(self._sleep_limit())
            self._waiting = False
        batch = [frames.popleft() for _ in range(min(len(frames), self.destination.prefetch))]
        return [frame for owner, frame in batch if owner is link]

    def _sleep_limit(self) -> float:
        """Seconds until something is due: the next sweep, or a status change not yet written."""
        limit = self._sweep.due_in()
        publish = self.publish_due_in()
        if publish is not None:
            limit = min(limit, publish)
        return max(0.0, limit)

    def _receive(self, link: Link, frames: list) -> None:
        if not link.alive:  # lost meanwhile (an ack that failed in the other thread): no ack can follow,
            return  # so the broker redelivers these frames; written now, they would come twice
        if self.ssm_store is not None:
            self._receive_into_ssm_store(link, frames)
            return
        to_write: dict[str, list[bytes]] = defaultdict(list)
        written_ids, acks = [], []
        for frame in frames:
            ack_id, message_id = _ids_of(frame)
            if self._seen(message_id, written_ids):
                acks.append(ack_id)
                continue
            body = _bytes_of(frame.body)
            try:
                # A spoolq sender's element name is of no use next to its message id: that
                # header is only added where the message is rewritten anyway (a signer to
                # record) or comes from another sender (SSM's empa-id is its only label).
                foreign = not is_from_spoolq(frame.headers)
                empa_id = _empa_id(frame.headers) if foreign or self.opener is not None else None
                spool, data = self._admit(frame.headers, body, empa_id)
            except Exception as exc:  # noqa: BLE001  (the per-frame boundary: nothing escapes it)
                if self._park(as_parked(frame.headers, body), _reason(exc)):
                    acks.append(ack_id)  # parked: safe on our disk, so the broker may forget it
                continue
            to_write[spool].append(data)
            written_ids.append(message_id)
            acks.append(ack_id)
        try:
            for spool, items in to_write.items():
                self._written.add(spool)
                self.root.spool(spool).put_many(items)
            self.recent.add_many(written_ids)
        except (SpoolqError, OSError) as exc:
            self.status.last_error = f"write failed, not acked: {exc}"
            log.error("receiver %s: %s", self.config.name, self.status.last_error)
            link.mark_lost()  # reconnect after a backoff; the broker redelivers
            return
        # Done once written: an ack lost with the connection brings a redelivery, counted as a duplicate.
        self.status.done += len(written_ids)
        if os.environ.get(EXIT_AFTER_WRITE):
            os._exit(137)
        link.ack_many(acks)

    def _seen(self, message_id: str, written_ids: list[str]) -> bool:
        """A redelivery of a message already written (before, or earlier in this batch): counted, to ack."""
        if message_id in self.recent or message_id in written_ids:
            self.status.duplicates += 1
            return True
        return False

    def _receive_into_ssm_store(self, link: Link, frames: list) -> None:
        """SSM's receiving (``ssm_store``): each frame verified into ``incoming`` or refused into ``reject``.

        Each message is synced to disk before it is acked; a write that fails
        stops the batch: what was written is acked, the rest is redelivered
        after a reconnect.
        """
        written_ids, acks, accepted, refused, failed = [], [], 0, 0, False
        try:
            for frame in frames:
                ack_id, message_id = _ids_of(frame)
                if self._seen(message_id, written_ids):
                    acks.append(ack_id)
                    continue
                where = self._store_for_ssm(_bytes_of(frame.body), _empa_id(frame.headers))
                accepted += where.startswith("incoming/")
                refused += where.startswith("reject/")
                written_ids.append(message_id)
                acks.append(ack_id)
        except OSError as exc:
            self.status.last_error = f"write to SSM store failed, not acked: {exc}"
            log.error("receiver %s: %s", self.config.name, self.status.last_error)
            failed = True
        try:
            self.recent.add_many(written_ids)
        except (SpoolqError, OSError) as exc:
            log.error("receiver %s: cannot record received ids: %s", self.config.name, exc)
        self.status.done += accepted  # on disk, whether or not the ack below reaches the broker
        self.status.parked += refused
        link.ack_many(acks)  # what is on disk (SSM's frames carry no id to drop a redelivery by)
        if failed:
            link.mark_lost()  # reconnect after a backoff; the broker redelivers the rest

    def _store_for_ssm(self, body: bytes, empa_id: str | None) -> str:
        """Verify ``body`` and add it to SSM's incoming or reject store; where it went."""
        try:
            content, signer = self.opener.open(body)
        except SignerRefused as exc:  # a good signature, a refused DN: SSM keeps the verified body
            log.warning("receiver %s: rejecting a message: %s", self.config.name, exc)
            return self.ssm_store.refuse(exc.content, exc.dn, empa_id, str(exc))
        except Exception as exc:  # noqa: BLE001  (the per-frame boundary, as in _receive)
            log.warning("receiver %s: rejecting a message: %s", self.config.name, _reason(exc))
            return self.ssm_store.refuse(body, None, empa_id, _reason(exc))
        return self.ssm_store.accept(content, signer, empa_id)

    def _output_spools(self) -> list:
        """The spools to sweep: the parked area, the configured spool and those written to so far."""
        return self._existing_spools(list(self._written))

    def _every_spool(self) -> list:
        """The parked area and every spool of the root: where a killed predecessor may have written."""
        return self._existing_spools([*self.root.spool_names(), *self._written])

    def _existing_spools(self, names: list[str]) -> list:
        spools = []
        unique = dict.fromkeys(names)
        wanted = [(self.root.parked, self.config.spool), *((self.root.spool, n) for n in unique)]
        for make, name in wanted:
            try:
                spools.append(make(name, create=False))
            except SpoolqError:
                continue  # not made yet: nothing to sweep
        return spools

    def _admit(self, headers: dict, body: bytes, empa_id: str | None = None) -> tuple[str, bytes]:
        """The spool a frame goes to, and the element to write there (raises to park).

        The message is rebuilt from the frame (:func:`~spoolq.shippers.frame_mapping.from_frame`):
        a spoolq sender's exactly as it was sent, a foreign sender's body as it
        came, with its headers.  The signer's DN and the sender's ``empa-id``
        (APEL SSM's message id) are added to the message's header, for the
        handlers to see.
        """
        signer = None
        if self.opener is not None:
            body, signer = self.opener.open(body)
        elif self.config.verify:
            raise SecurityError("verify is on but no security settings are configured")
        try:
            message = from_frame(headers, body)
        except MalformedMessage as exc:
            raise MalformedMessage(f"received message is not a valid envelope: {exc.reason}") from None
        spool = self.router.deliver_here(message, self.config.spool)
        pairs = ((SIGNER_DN, signer), (EMPA_ID, empa_id))
        added = {name: value for name, value in pairs if value is not None}
        if message.header:  # an envelope: one hop more on its trail (a raw body is stored as it came)
            stamped = trail.stamp(message.header, trail.RECEIVED, self.node, f"spool={spool}")
            added[trail.TRAIL] = stamped.get(trail.TRAIL)
        if added:
            message = message.with_header(**added)
        return spool, envelope.encode(message)

    def _park(self, body: bytes, reason: str) -> bool:
        """Park ``body``; ``False`` (so: not acked, redelivered later) if even that fails."""
        log.error("receiver %s: parking a message: %s", self.config.name, reason)
        try:
            park(self.root, self.config.spool, body, reason)
        except Exception as exc:  # noqa: BLE001  (SpoolqError, OSError...: the broker keeps it)
            log.error("receiver %s: cannot park, leaving it with the broker: %s", self.config.name, exc)
            return False
        self.status.parked += 1
        return True


def _bytes_of(body: bytes | str | None) -> bytes:
    """A frame's body as bytes (stomp.py gives bytes with ``auto_decode=False``; kept safe if not)."""
    if isinstance(body, bytes):
        return body
    return (body or "").encode("utf-8", "surrogatepass")


def _empa_id(headers: dict) -> str | None:
    """The frame's ``empa-id``, when it is a plausible id (printable ASCII, at most 255 characters).

    Anything else is left out of the message (and logged): the id is only a
    label, never a reason to refuse the message it came with.
    """
    value = headers.get(EMPA_ID)
    if value is None:
        return None
    if len(value) <= MAX_EMPA_ID and value.isascii() and value.isprintable():
        return value
    log.warning("receiver: ignoring an empa-id that is not printable ASCII of <= %d characters", MAX_EMPA_ID)
    return None


def _reason(exc: Exception) -> str:
    """Why a frame is parked: a spoolq error's own words, else the exception's type and text."""
    if isinstance(exc, SpoolqError):
        return str(exc)
    return f"received message cannot be read: {type(exc).__name__}: {exc}"[:1000]


def _ids_of(frame) -> tuple[str | None, str]:
    """The frame's ack id, and the id that tells a redelivery apart (spoolq's own, else the broker's)."""
    ack_id = frame.headers.get("ack") or frame.headers.get("message-id")
    return ack_id, frame.headers.get(SPOOLQ_ID) or frame.headers.get("message-id", "")
