"""The one shape of a shipper plugin, and the supervising loop every shipper runs.

A shipper moves messages between spools and a broker.  Subclasses fill four
hooks; :meth:`Shipper.run` owns the connection and calls them::

    class MyShipper(Shipper):
        kind = "mine"                       # the name its status and metrics show
        def on_connect(self, link): ...     # after each (re)connect: subscribe, reset
        def pump(self, link) -> bool: ...   # move some messages; False when idle
        def on_disconnect(self): ...        # the link is gone: release what was in flight
        def drain(self, link): ...          # stopping: finish in-flight work, bounded

A ``[shippers.NAME]`` table's ``kind`` names the class
(:mod:`spoolq.shippers.registry`: ``ship``, ``receive``, ``module:attr``, or
an entry point of the group ``spoolq.shippers``), and the classmethod
:meth:`Shipper.from_config` builds it from the tables; a subclass that needs
more than the base constructor's arguments overrides it.

The loop runs in the caller's thread (the supervisor), never in a stomp.py
callback: it opens a :class:`~spoolq.shippers.link.Link`, pumps while the
link is alive, and after a loss waits a jittered, exponentially growing delay
before it connects again.  Messages wait on disk meanwhile.

The first loss after the link moved messages is answered at once, by trying
the other hosts of the failover list (the lost one last): a broker node that
died must not cost seconds.  Every loss after that, before progress, waits the
backoff, which grows to ``backoff_max``.  A successful connect alone does not
reset it: a broker that takes the connection and then refuses every SEND (or
drops the link) would otherwise be hit several times a second.  Only
progress resets it: a receipt, a delivered message (:meth:`Shipper.progress`),
or a connection that held for ``backoff_max``.  The broker's repeated words are
said once, then counted (:mod:`spoolq.shippers.log_repeats`).  :meth:`stop` (a
signal handler may call it: it only sets a flag and rings the doorbell) makes
the loop drain and return.  :meth:`Shipper.publish` writes what the loop
counts: the status file for ``spoolq stats`` and the metrics file for
Prometheus, each only when something in it changed.

An idle shipper costs nothing: its ``pump`` sleeps on :attr:`Shipper.doorbell`
(:mod:`spoolq.shippers.doorbell`), rung by whatever brings work, with a
timeout only as long as the next thing due (:meth:`Shipper.publish_due_in`,
and the subclass's own deadlines), never a polling interval.

A broker that refuses the login on every host of the list
(:class:`~spoolq.shippers.link.LoginRefused`: a wrong password, an unknown
user) is a configuration error, not an outage: it is said once, in one line
naming the broker and the user, ``spoolq stats`` shows the state ``login
refused``, and the shipper waits ``backoff_max`` before it tries again.  With
``exit_on_login_refused`` (``spoolq ship`` and ``spoolq receive`` run by
hand) :meth:`Shipper.run` raises :class:`~spoolq.errors.ConfigError` instead.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable

from spoolq.errors import BrokerUnavailable, ConfigError, ShipError
from spoolq.shippers.config import BrokerConfig, DestinationConfig, ShipperConfig, ShippingConfig
from spoolq.shippers.doorbell import Doorbell
from spoolq.shippers.link import Link, LoginRefused
from spoolq.shippers.log_repeats import RepeatedWarnings
from spoolq.shippers.status import STATE_DIR, ShipperStatus, StatusFile
from spoolq.shippers.status_metrics import StatusMetrics, shipper_metrics_path
from spoolq.spool import SpoolRoot

log = logging.getLogger("spoolq.shippers")


class Backoff:
    """Delays of ``initial * 2**n`` capped at ``maximum``, each scaled by a random 0.5..1."""

    def __init__(self, initial: float = 0.2, maximum: float = 60.0):
        self.initial = initial
        self.maximum = maximum
        self.failures = 0

    def next_delay(self) -> float:
        delay = min(self.maximum, self.initial * (2**self.failures))
        self.failures = min(self.failures + 1, 30)
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.failures = 0


class Shipper:
    """Base class of shipper plugins; ``kind`` is the short built-in name."""

    kind: str = ""

    def __init__(
        self,
        root: SpoolRoot,
        config: ShipperConfig,
        destination: DestinationConfig,
        broker: BrokerConfig,
        *,
        metrics_dir: str | None = None,
        metrics_interval: float = 10.0,
    ):
        self.root = root
        self.config = config
        self.destination = destination
        self.broker = broker
        self.stopping = threading.Event()
        self.status = ShipperStatus(config.name, self.kind)
        self.status_file = StatusFile(root.path, self.status)
        self.metrics_file = StatusMetrics(
            self.status, shipper_metrics_path(root.path, metrics_dir, config.name), metrics_interval
        )
        self._connections = 0
        self.backoff = Backoff(maximum=config.backoff_max)
        self.doorbell = Doorbell()  # what pump and the pauses sleep on; stop() rings it
        self.exit_on_login_refused = False  # True: a login refused by every host ends run()
        self._refusal_said = ""  # the refused login last logged, so it is said once
        self._retry_delay = 0.0  # set by a failed _connect: how long to wait before the next
        self.warnings = RepeatedWarnings(log)  # the same refusal over and over: said once, then counted

    @classmethod
    def from_config(
        cls,
        root: SpoolRoot,
        shipping: ShippingConfig,
        config: ShipperConfig,
        *,
        outgoing: str = "outgoing",
        metrics_dir: str | None = None,
        metrics_interval: float = 10.0,
    ) -> Shipper:
        """The shipper ``config`` (one of ``shipping``'s tables) describes, ready to :meth:`run`.

        ``outgoing`` is the spool of messages addressed to other nodes (a
        receiver routes into it); the base ignores it.
        """
        destination = shipping.destinations[config.destination]
        broker = shipping.brokers[destination.broker]
        return cls(
            root, config, destination, broker, metrics_dir=metrics_dir, metrics_interval=metrics_interval
        )

    # -- hooks ----------------------------------------------------------------------

    def on_connect(self, link: Link) -> None:
        """Called after each successful connect, before the first :meth:`pump`."""

    def pump(self, link: Link) -> bool:
        """Move some messages; return ``False`` when there was nothing to do."""
        raise NotImplementedError(f"{type(self).__name__} must define pump(link)")

    def on_disconnect(self) -> None:
        """The link was lost: put back whatever waited for the broker."""

    def drain(self, link: Link) -> None:
        """Stopping with a live link: finish what is in flight (bounded by the timeouts)."""

    def make_link(self) -> Link:
        """A new, unopened link; its CA bundle (for ``ca_path``) is private to this shipper."""
        bundle = os.path.join(self.root.path, STATE_DIR, f"{self.config.name}.ca-bundle.pem")
        return Link(
            self.broker,
            send_timeout=self.config.send_timeout,
            ca_bundle=bundle,
            doorbell=self.doorbell,
            warnings=self.warnings,
        )

    def refresh_status(self) -> None:
        """Update counters that are computed, not counted (e.g. the backlog)."""

    def progress(self) -> int:
        """A count that grows with every message moved: receipts, deliveries, dropped resends.

        The backoff resets only when it grew, not at a mere connect.
        """
        return self.status.done + self.status.duplicates

    # -- the supervising loop ---------------------------------------------------------

    def stop(self) -> None:
        """Ask the loop to drain and return; safe from a signal handler."""
        self.stopping.set()
        self.doorbell.ring()

    def run(self, on_started: Callable[[], object] | None = None) -> None:
        """Connect, pump, reconnect after losses; return after :meth:`stop`.

        ``on_started`` is called once, after the first connection attempt has
        either connected or failed (so after at most ``connect_timeout`` per host),
        before any wait to try again: ``spoolq run`` counts the shipper as ready then.
        """
        lost = None  # host:port of the connection just lost: tried last
        try:
            while not self.stopping.is_set():
                link = self._connect(lost)
                if on_started is not None:
                    on_started()
                    on_started = None
                if link is None:
                    self._sleep(self._retry_delay)
                    continue
                opened = time.monotonic()
                try:
                    self._serve(link)
                finally:
                    link.close()
                    self.on_disconnect()
                    self.status.state = "disconnected"
                    self.status.in_flight = 0
                if not self.stopping.is_set():
                    lost = link.where
                    self._sleep(self._after_loss(link, time.monotonic() - opened))
        finally:
            self.warnings.flush()
            self.status.state = "stopped"
            self.refresh_status()
            self.publish(force=True)

    def _connect(self, lost: str | None = None) -> Link | None:
        """A connected link, or ``None`` with :attr:`_retry_delay` set to the wait before the next try.

        ``lost``: the host whose connection was just lost, tried last.
        """
        link = self.make_link()
        try:
            link.open(lost)
        except LoginRefused as exc:
            self._retry_delay = self._login_refused(exc)
            return None
        except BrokerUnavailable as exc:
            self.status.state = "disconnected"
            self.status.last_error = str(exc)
            self._retry_delay = self._pause(str(exc))
            return None
        self.status.broker = link.where
        try:
            self.on_connect(link)
        except (ShipError, OSError) as exc:
            link.close()
            self.status.last_error = str(exc)
            self._retry_delay = self._pause(f"setting up {link.where}: {exc}")
            return None
        self.status.state, self.status.reason = "connected", ""  # after on_connect: a receiver subscribed
        self._refusal_said = ""  # (the backoff is not reset here: only progress resets it)
        self._connections += 1
        self.status.reconnects = self._connections - 1
        self.publish(force=True)  # "connected" shows at once, not at the next interval
        return link

    def _serve(self, link: Link) -> None:
        moved = self.progress()
        while link.alive and not self.stopping.is_set():
            try:
                self.pump(link)
            except ShipError as exc:  # the link failed under us: reconnect
                self.status.last_error = str(exc)
                link.mark_lost()
                break
            if moved != self.progress():
                moved = self.progress()
                self.backoff.reset()  # real progress: the next loss is answered at once
                self.warnings.flush()  # and said in full
            self.refresh_status()
            self.publish()
        if link.alive:
            self.drain(link)

    def _login_refused(self, exc: LoginRefused) -> float:
        """Every host refused the login: a configuration error, said once; the wait before the next try."""
        self.status.last_error = str(exc)
        if self.exit_on_login_refused:
            raise ConfigError(f"shipper {self.config.name}: {exc}; check the username and passcode") from None
        self.status.state, self.status.reason = "login refused", str(exc)
        delay = self.backoff.maximum  # a password does not mend itself in a tenth of a second
        if str(exc) != self._refusal_said:
            self._refusal_said = str(exc)
            log.error("shipper %s: %s; retrying every %g s", self.config.name, exc, delay)
        self.refresh_status()
        self.publish(force=True)
        return delay

    def _after_loss(self, link: Link, lifetime: float) -> float:
        """How long to wait after ``link`` was lost, having lasted ``lifetime`` s.

        At once after progress (or a connection that held for ``backoff_max``)
        when the list has other hosts; else the backoff's next delay.
        """
        where = link.where
        why = f"connection to {where} lost" + (f" after the broker said: {link.error}" if link.error else "")
        if lifetime >= self.backoff.maximum:
            self.backoff.reset()  # not a storm: it held as long as the longest wait
        if self.backoff.failures == 0 and len(self.broker.hosts) > 1:
            self.backoff.failures = 1  # the next loss without progress waits
            self.status.reason = why
            self.warnings.warning(why, f"shipper {self.config.name}: {why}; trying the next host now")
            self.refresh_status()
            self.publish(force=True)
            return 0.0
        return self._pause(why)

    def _pause(self, why: str) -> float:
        """Log a failure and publish it; the backoff's next delay, for the caller to sleep."""
        delay = self.backoff.next_delay()
        self.status.reason = why
        self.warnings.warning(why, f"shipper {self.config.name}: {why}; retrying in {delay:.1f} s")
        self.refresh_status()
        self.publish(force=True)
        return delay

    def _sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less if :meth:`stop` is called."""
        deadline = time.monotonic() + seconds
        while not self.stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.doorbell.wait(left)

    def publish(self, force: bool = False) -> None:
        """Write the status file and the metrics file, each when due and changed (or now, when ``force``)."""
        self.status_file.maybe_write(force)
        self.metrics_file.maybe_write(force)

    def publish_due_in(self) -> float | None:
        """Seconds until :meth:`publish` has a change to write (``None``: nothing to write).

        ``pump`` sleeps no longer than this, so the last figures of a burst
        reach the files although nothing wakes the shipper afterwards.
        """
        due = [d for d in (self.status_file.due_in(), self.metrics_file.due_in()) if d is not None]
        return min(due) if due else None
