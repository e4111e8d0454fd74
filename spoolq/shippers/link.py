"""One STOMP connection to a broker of a failover list, with bounded waits.

A :class:`Link` never reconnects by itself: when the connection is lost it
sets :attr:`Link.lost` (any number of disconnect notifications set it once)
and the shipper's own loop, never a stomp.py callback, makes a new Link after
a backoff.  stomp.py's ``wait=True`` connect can wait forever, so we wait for
CONNECTED, or the loss of the connection, on the shipper's doorbell
(:mod:`spoolq.shippers.doorbell`) with a timeout; a send that the socket
cannot take fails after ``send_timeout`` (``SO_SNDTIMEO``) instead of blocking.

An ERROR frame in answer to CONNECT (a wrong password, an unknown user or
vhost) is noticed the moment it arrives, not after ``connect_timeout``:
:meth:`Link.open` raises :class:`LoginRefused` when every host of the list
refused the login, so the shipper can tell a configuration error from an
outage.

With TLS the broker's certificate is checked against ``ca_file``, or against
the certificates of the ``ca_path`` directory, which :meth:`Link.open` bundles
into the private file ``ca_bundle`` first (spoolq.shippers.security.ca_directory).
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable

import stomp

from spoolq.errors import BrokerUnavailable
from spoolq.shippers.config import BrokerConfig
from spoolq.shippers.doorbell import Doorbell
from spoolq.shippers.failover import hosts_to_try
from spoolq.shippers.log_repeats import RepeatedWarnings
from spoolq.shippers.refusals import Refusal
from spoolq.shippers.security.ca_directory import NoCACertificates, write_bundle
from spoolq.shippers.security.tls_probe import handshake_problem
from spoolq.shippers.stomp_log import connect_failure, forget_connect_failure, quiet_handled_failures

log = logging.getLogger("spoolq.shippers")

_NOBODY_WAITS = 1 << 62  # Link.receipts_wanted while no thread waits in take_receipts
PROBE_TIMEOUT = 5.0  # seconds for the handshake repeated after a failed TLS connect

quiet_handled_failures()  # a failed send or connect is this module's to report, once, without a traceback


class LoginRefused(BrokerUnavailable):
    """The broker answered CONNECT with an ERROR frame: credentials (or vhost) it does not accept."""


def _escape(value: str) -> str:
    """STOMP 1.2 header value escaping (most values have nothing to escape: checked first, in C)."""
    if "\\" in value or ":" in value or "\n" in value or "\r" in value:
        return value.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n").replace(":", "\\c")
    return value


def _send_frame(destination: str, body: bytes, headers: dict[str, str]) -> bytes:
    head = "".join([f"\n{_escape(k)}:{_escape(v)}" for k, v in headers.items()])
    text = f"SEND\ndestination:{_escape(destination)}\ncontent-length:{len(body)}{head}\n\n"
    return b"".join((text.encode("utf-8"), body, b"\x00"))


class _Listener(stomp.ConnectionListener):
    """Turns stomp.py's callbacks into events the link's owner waits on."""

    def __init__(self, link: Link):
        self.link = link

    def on_connected(self, frame) -> None:
        self.link.forget_heartbeat_grace()
        self.link.connected.set()
        self.link.doorbell.ring()

    def on_receipt(self, frame) -> None:
        link = self.link
        link.receipts.append(frame.headers.get("receipt-id"))
        if len(link.receipts) >= link.receipts_wanted:  # else nobody waits, or not for this many
            link.doorbell.ring()

    def on_error(self, frame) -> None:
        link = self.link
        refusal = Refusal.from_frame(frame.headers, frame.body)
        link.error = refusal.words[:300]
        if not link.connected.is_set():
            link.login_refused = True  # the answer to CONNECT: the shipper says it, once
        elif frame.headers.get("subscription") or "cancelled subscription" in refusal.words.lower():
            # RabbitMQ: "Server cancelled subscription" (its queue deleted, or its node gone).
            # The connection stays open, delivering nothing: the receiver subscribes again.
            link.cancelled = refusal.words[:300]
            link.warnings.warning(link.error, f"broker {link.where}: subscription cancelled: {link.error}")
        else:
            link.refusals.append(refusal)  # before the disconnect a closing broker sends next
            link.warnings.warning(link.error, f"broker {link.where}: error frame: {link.error}")
        link.doorbell.ring()

    def on_message(self, frame) -> None:
        if self.link.on_message is not None:
            self.link.on_message(frame)

    def on_disconnected(self) -> None:
        self.link.mark_lost()

    def on_heartbeat_timeout(self) -> None:
        self.link.mark_lost()


class Link:
    """A connected STOMP session; :meth:`open` tries the hosts in the broker's ``order``."""

    def __init__(
        self,
        broker: BrokerConfig,
        *,
        on_message: Callable | None = None,
        send_timeout: float = 30.0,
        ca_bundle: str | None = None,
        doorbell: Doorbell | None = None,
        warnings: RepeatedWarnings | None = None,
    ):
        self.broker = broker
        self.doorbell = doorbell if doorbell is not None else Doorbell()  # the owner's loop sleeps on it
        self.warnings = warnings if warnings is not None else RepeatedWarnings(log)  # the owner's, if given
        self.ca_bundle = ca_bundle  # where the CAs of broker.ca_path are bundled
        self.on_message = on_message
        self.send_timeout = send_timeout
        self.connected = threading.Event()
        self.lost = threading.Event()
        self.receipts: deque[str] = deque()
        self.receipts_wanted = _NOBODY_WAITS  # how many the waiter of take_receipts wants
        self.error: str | None = None
        self.login_refused = False  # the last host tried answered CONNECT with an ERROR frame
        self.cancelled: str | None = None  # the broker's words when it ended our subscription
        self.refusals: deque[Refusal] = deque(maxlen=1000)  # ERROR frames not yet taken
        self.where = "?"
        self._conn: stomp.Connection12 | None = None
        self._ca_file = broker.ca_file

    def open(self, lost: str | None = None) -> None:
        """Connect to one host of the list, in the broker's ``order``, or raise.

        ``lost`` (``host:port``), the host whose connection was just lost, is tried last.
        """
        self._prepare_ca_file()
        hosts = hosts_to_try(self.broker.hosts, self.broker.order, lost)
        failures, refused = [], 0
        for host, port in hosts:
            try:
                self._connect(host, port)
                return
            except LoginRefused as exc:
                refused += 1
                failures.append(f"{host}:{port}: {exc}")
                self._drop()
            except (OSError, stomp.exception.StompException, BrokerUnavailable) as exc:
                reason = self._tls_problem(host, port) or str(exc) or connect_failure() or type(exc).__name__
                failures.append(f"{host}:{port}: {reason}")
                self._drop()
        b = self.broker
        if refused == len(hosts):
            raise LoginRefused(
                f"broker {b.name!r} refused the login of user {b.username!r}: " + "; ".join(failures)
            )
        raise BrokerUnavailable(f"broker {b.name!r}: no host answered: " + "; ".join(failures))

    def _prepare_ca_file(self) -> None:
        """With ``ca_path``: bundle the directory's CAs now, so that changes there count at once."""
        b = self.broker
        if not b.use_tls or not b.ca_path:
            return
        if self.ca_bundle is None:
            raise BrokerUnavailable(f"broker {b.name!r}: ca_path needs a place for the CA bundle")
        try:
            count = write_bundle(b.ca_path, self.ca_bundle)
        except NoCACertificates as exc:
            raise BrokerUnavailable(f"broker {b.name!r}: ca_path {exc}") from None
        except OSError as exc:
            raise BrokerUnavailable(f"broker {b.name!r}: cannot write {self.ca_bundle}: {exc}") from None
        log.debug("broker %s: %d CA certificates from %s", b.name, count, b.ca_path)
        self._ca_file = self.ca_bundle

    def _tls_problem(self, host: str, port: int) -> str | None:
        """After a failed connect over TLS: the handshake's own reason, if that was the problem."""
        b = self.broker
        if not b.use_tls or self.connected.is_set():
            return None
        problem = handshake_problem(
            host, port, ca_file=self._ca_file, cert_file=b.cert_file, key_file=b.key_file,
            timeout=min(b.connect_timeout, PROBE_TIMEOUT),
        )  # fmt: skip
        if problem is None:
            return None
        trust = f"ca_path {b.ca_path}" if b.ca_path else f"ca_file {b.ca_file}"
        return f"{problem} (trusted CAs: {trust})"

    def _connect(self, host: str, port: int) -> None:
        b = self.broker
        self.where = f"{host}:{port}"
        self.connected.clear()
        self.lost.clear()
        self.login_refused, self.error = False, None
        forget_connect_failure()
        conn = stomp.Connection12(
            [(host, port)],
            heartbeats=b.heartbeats,
            vhost=b.vhost,
            reconnect_attempts_max=1,
            timeout=b.connect_timeout,
            auto_decode=False,
            try_loopback_connect=False,
        )
        if b.use_tls:
            conn.set_ssl([(host, port)], key_file=b.key_file, cert_file=b.cert_file, ca_certs=self._ca_file)
        conn.set_listener("spoolq", _Listener(self))
        self._conn = conn
        conn.connect(b.username, b.passcode, wait=False)
        self._wait_for_answer(b.connect_timeout)
        sock = getattr(conn.transport, "socket", None)
        if sock is not None and sock.gettimeout() is None:
            seconds = int(self.send_timeout)
            micro = int((self.send_timeout - seconds) * 1e6)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", seconds, micro))
        log.info("connected to broker %s at %s", b.name, self.where)

    def _wait_for_answer(self, timeout: float) -> None:
        """Return once CONNECTED came; raise at an ERROR frame, a lost connection or ``timeout``.

        Woken by the doorbell, which the listener rings at each of them: a
        refused login is known within the broker's round trip.
        """
        deadline = time.monotonic() + timeout
        while not self.login_refused and not self.lost.is_set() and not self.connected.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrokerUnavailable(f"no CONNECTED within {timeout:g} s")
            self.doorbell.wait(left)
        if self.login_refused:
            raise LoginRefused(self.error or "ERROR frame in answer to CONNECT")
        if self.lost.is_set() or not self.connected.is_set():
            raise BrokerUnavailable(self.error or "connection closed before CONNECTED")

    def forget_heartbeat_grace(self) -> None:
        """Count the broker's silence from CONNECTED, not from one heartbeat period later.

        stomp.py's heart-beat listener (the connection itself, notified before
        ours) starts the first wait for the broker's heart-beat ``1.5 x
        heartbeat_recv_ms`` after CONNECTED, and ignores what arrives until
        then: a link that went silent in its first seconds was noticed only
        after 3 x the heart-beat, not within the 2 x promised.  What arrives
        moves the mark again, so the broker still has the full 1.5 x.
        """
        conn = self._conn
        if conn is not None and getattr(conn, "received_heartbeat", None) is not None:
            conn.received_heartbeat = time.monotonic()

    def mark_lost(self) -> None:
        """Idempotent: a second disconnect notification changes nothing."""
        self.connected.clear()
        self.lost.set()
        self.doorbell.ring()

    @property
    def alive(self) -> bool:
        return self.connected.is_set() and not self.lost.is_set()

    def send(self, destination: str, body: bytes, headers: dict[str, str]) -> None:
        # stomp.py escapes header values but not names: a name holding ':' or a newline
        # (a message header field, spoolq.shippers.frame_mapping) is escaped here.
        self._call("send", destination, body, headers={_escape(k): v for k, v in headers.items()})

    def send_many(self, frames: list[tuple[str, bytes, dict[str, str]]]) -> None:
        """SEND each ``(destination, body, headers)``, written in one system call.

        As :meth:`ack_many`: one ``sendall`` for the batch instead of one per
        frame; a TLS transport (its own writer thread) takes them one by one.
        """
        transport = getattr(self._conn, "transport", None)
        if transport is None or not transport.blocking:
            for destination, body, headers in frames:
                self.send(destination, body, headers)
            return
        self._write(b"".join(_send_frame(*frame) for frame in frames), "send")

    def _write(self, data: bytes, what: str) -> None:
        try:
            self._conn.transport.send(data)
        except (OSError, AttributeError, stomp.exception.StompException) as exc:
            self.mark_lost()
            raise BrokerUnavailable(f"{self.where}: {what} failed: {exc or type(exc).__name__}") from None

    def subscribe(self, destination: str, ack: str, prefetch: int, extra: dict[str, str] | None = None):
        """SUBSCRIBE with a bounded prefetch; ``extra``: more headers (a queue type's, a receipt)."""
        headers = {"prefetch-count": str(prefetch), "activemq.prefetchSize": str(prefetch), **(extra or {})}
        self._call("subscribe", destination, id="spoolq-1", ack=ack, headers=headers)

    def ack(self, ack_id: str) -> None:
        self._call("ack", ack_id)

    def ack_many(self, ack_ids: list[str]) -> None:
        """ACK each message (client-individual), the frames written in one system call.

        stomp.py writes one frame per ``sendall``; a batch of a few hundred ACKs
        is cheaper as one write.  A TLS transport queues frames for its own
        writer thread, so there we ack one by one.
        """
        conn = self._conn
        transport = getattr(conn, "transport", None)
        if transport is None or not transport.blocking:
            for ack_id in ack_ids:
                self.ack(ack_id)
            return
        self._write(b"".join(b"ACK\nid:%s\n\n\x00" % _escape(a).encode("utf-8") for a in ack_ids), "ack")

    def _call(self, method: str, *args, **kwargs) -> None:
        """A stomp.py call; any failure marks the link lost and raises BrokerUnavailable."""
        conn = self._conn
        try:
            if conn is None:
                raise stomp.exception.NotConnectedException()
            getattr(conn, method)(*args, **kwargs)
        except (OSError, stomp.exception.StompException) as exc:
            self.mark_lost()
            raise BrokerUnavailable(f"{self.where}: {method} failed: {exc or type(exc).__name__}") from None

    def take_receipts(self, timeout: float = 0.0, at_least: int = 1) -> list[str]:
        """Receipts arrived since the last call; waits up to ``timeout`` for ``at_least`` of them.

        A sender whose window is full asks for a share of it: woken for each
        receipt, it sent one frame at a time and passed the GIL to and from
        the reader thread for every message.
        """
        receipts = self.receipts
        if timeout > 0 and len(receipts) < at_least and not self.lost.is_set():
            # RACE: the reader appends, then compares with receipts_wanted; set before the
            # length is looked at again here, so one of the two sees the other's change.
            self.receipts_wanted = at_least
            if len(receipts) < at_least and not self.lost.is_set():
                self.doorbell.wait(timeout)  # rung by these receipts, a loss, or other work
            self.receipts_wanted = _NOBODY_WAITS
        return [receipts.popleft() for _ in range(len(receipts))]

    def take_refusals(self) -> list[Refusal]:
        """The broker's ERROR frames since the last call (see :mod:`spoolq.shippers.refusals`)."""
        refusals = self.refusals
        return [refusals.popleft() for _ in range(len(refusals))]

    def close(self) -> None:
        self._drop()

    def _drop(self) -> None:
        """Say DISCONNECT, give the reader thread 2 s to end, then close the socket.

        A connection that never got CONNECTED (a refused login) has no session
        to end politely: its socket is closed at once.
        """
        conn, self._conn = self._conn, None
        if conn is None:
            return
        transport = conn.transport
        session = self.connected.is_set()
        try:
            if session and conn.is_connected():
                conn.disconnect()
        except Exception:  # noqa: BLE001  (a dying connection may fail any way it likes)
            pass
        reader = transport.io_thread
        if reader is not None and session:
            reader.join(2.0)
        if reader is None or reader.is_alive():
            transport.running = False
            try:
                transport.disconnect_socket()
            except Exception:  # noqa: BLE001
                pass
            if reader is not None:
                reader.join(5.0)
        self.connected.clear()
