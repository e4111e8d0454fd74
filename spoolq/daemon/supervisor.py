"""``spoolq run``: every enabled component and shipper in its own child process, kept running.

The loop owns all state and sleeps in a :class:`~spoolq.daemon.wakeup.WakeupPipe`,
which hands it the signals received:

- a child that exits on its own is restarted after ``restart_delay``, doubled
  for each further crash up to ``restart_cap`` (spoolq.daemon.restarts);
- SIGTERM / SIGINT: every child gets SIGTERM and drains; when all have exited,
  :meth:`Supervisor.run` returns 0 (130 for a SIGINT: spoolq.daemon.stop_signals).
  A second one: every child gets SIGKILL (claims in flight stay locked and are
  retried once stale); returns 130;
- SIGHUP: the configuration is read again.  Invalid: logged, the running one is
  kept.  Valid: new components start, removed ones drain, changed ones drain
  and start again with the new settings;
- READY=1 goes to systemd once every child reported ready (again after a
  reload): a component once it watches its spool, a shipper once its first
  connection attempt connected or failed.  A shipper does not wait for its
  broker: messages wait on disk, components work locally meanwhile, and a
  broker that is down at boot must not hold the whole service in "starting"
  (systemd would kill it after its start timeout).  The attempt is bounded
  (``connect_timeout`` per host), so in the usual case READY=1 means
  "connected", and ``spoolq stats`` shows which shippers are not.

Children are :class:`~spoolq.daemon.run_plan.ChildSpec` records from
:func:`~spoolq.daemon.run_plan.planned_children`, keyed ``component NAME`` and
``shipper NAME``; the log names them so.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable, Mapping, Sequence

from spoolq.config import Config
from spoolq.daemon import sdnotify
from spoolq.daemon.child_process import ChildProcess
from spoolq.daemon.restarts import RestartSchedule
from spoolq.daemon.run_plan import SHIPPER, ChildSpec, counted, planned_children, shared_settings
from spoolq.daemon.stop_signals import INTERRUPTED, STOP_SIGNALS, StopSignals
from spoolq.daemon.wakeup import WakeupPipe
from spoolq.errors import ConfigError

log = logging.getLogger("spoolq.supervisor")

CommandFor = Callable[[ChildSpec], Sequence[str]]
ChildrenOf = Callable[[Config], list[ChildSpec]]


class Supervisor:
    """Starts, restarts and stops the component and shipper processes of one configuration."""

    def __init__(
        self,
        config: Config,
        reload: Callable[[], Config],
        command_for: CommandFor,
        *,
        children_of: ChildrenOf = planned_children,
        env: Mapping[str, str] | None = None,
        restart_delay: float = 0.5,
        restart_cap: float = 60.0,
        stable_after: float = 30.0,
    ):
        self.config = config
        self._reload_config = reload
        self._command_for = command_for
        self._children_of = children_of
        self._env = dict(os.environ if env is None else env)
        self.restarts = RestartSchedule(restart_delay, restart_cap, stable_after)
        self.children: dict[str, ChildProcess] = {}  # by ChildSpec.key
        self.desired: dict[str, ChildSpec] = {}
        self._stops = StopSignals()
        self._reload_requested = False
        self._draining = self._ready_announced = False

    # -- the loop ----------------------------------------------------------------------

    def run(self) -> int:
        """Supervise until drained (0; 130 if by SIGINT) or forced (130). Must run in the main thread."""
        # SIGCHLD only wakes the loop: _reap then looks at every child.
        with WakeupPipe((signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD)) as wakeup:
            self.apply(self.config, self._children_of(self.config))
            return self._loop(wakeup)

    def _loop(self, wakeup: WakeupPipe) -> int:
        while True:
            if self._stops.forced:
                return self._force()
            if self._stops.stopping and not self._draining:
                self._drain()
            if self._reload_requested and not self._draining:
                self._reload_requested = False
                self.reload()
            self._reap()
            if self._draining and not self.children:
                log.info("all %s stopped", "components and shippers" if self._shippers() else "components")
                return self._stops.exit_code()
            if not self._draining:
                self._start_due()
                self._announce_ready()
            self._wait(wakeup)

    def _wait(self, wakeup: WakeupPipe) -> None:
        """Sleep until a signal (a child's exit is SIGCHLD), a ready line or a restart's time.

        No timeout otherwise: every event the loop acts on wakes it, so an
        idle supervisor is never scheduled.
        """
        pipes = {c.ready_fd: c for c in self.children.values() if c.ready_fd is not None}
        received, readable = wakeup.wait(self.restarts.seconds_to_next(), pipes)
        for signum in received:
            if signum in STOP_SIGNALS:
                self._stops.add(signum)
            elif signum == signal.SIGHUP:
                self._reload_requested = True
        for fd in readable:
            child = pipes[fd]
            child.read_ready()
            if child.ready:
                log.info("%s is ready (pid %d)", child.key, child.pid)

    # -- what runs ---------------------------------------------------------------------

    def apply(self, config: Config, specs: list[ChildSpec]) -> None:
        """Make the running set match ``specs``: start new, stop removed, restart changed."""
        everything_changed = shared_settings(config) != shared_settings(self.config)
        self.config = config
        old, self.desired = self.desired, {spec.key: spec for spec in specs}
        for key in list(old):
            if key not in self.desired:
                self.restarts.cancel(key)
                if key in self.children:
                    log.info("%s removed from the configuration: stopping it", key)
                    self.children[key].stop()
        for key, spec in self.desired.items():
            if key in self.children:
                if everything_changed or old.get(key) != spec:
                    log.info("%s changed: restarting it", key)
                    self.children[key].stop()  # started again when it has exited
            elif not self.restarts.pending(key):
                self._start(spec)
        if not self.desired:
            log.warning("no enabled components in the configuration")

    def reload(self) -> None:
        """SIGHUP: read the configuration again; keep the running one if it is invalid."""
        try:
            config = self._reload_config()
            specs = self._children_of(config)
        except ConfigError as exc:
            log.error("configuration reload failed, keeping the running configuration: %s", exc)
            return
        log.info("configuration reloaded from %s", config.path)
        sdnotify.notify("RELOADING=1")
        self._ready_announced = False
        self.apply(config, specs)

    def _start(self, spec: ChildSpec) -> None:
        try:
            child = ChildProcess(spec, self._command_for(spec), self._env, self.config.source)
        except OSError as exc:
            log.error("cannot start %s: %s", spec.key, exc)
            self._schedule_restart(spec.key, 0.0, None)
            return
        self.children[spec.key] = child
        log.info("started %s (pid %d)", spec.key, child.pid)

    def _reap(self) -> None:
        for key, child in list(self.children.items()):
            status = child.poll()
            if status is None:
                continue
            child.close_pipe()
            del self.children[key]
            if self._draining or child.stopping:
                log.info("%s stopped (status %s)", key, status)
                if not self._draining and key in self.desired:
                    self._start(self.desired[key])  # a changed child comes back
            elif key in self.desired:
                self._schedule_restart(key, time.monotonic() - child.started_at, status)

    def _schedule_restart(self, key: str, ran_for: float, status: int | None) -> None:
        delay, crashes = self.restarts.crashed(key, ran_for)
        log.warning(
            "%s exited unexpectedly (status %s); restarting in %.1f s (restart %d)",
            key,
            status,
            delay,
            crashes,
        )

    def _start_due(self) -> None:
        for key in self.restarts.take_due():
            if key in self.desired and key not in self.children:
                log.info("restarting %s", key)
                self._start(self.desired[key])

    def _announce_ready(self) -> None:
        if self._ready_announced:
            return
        if all(key in self.children and self.children[key].ready for key in self.desired):
            self._ready_announced = True
            running = counted(self.desired.values())
            log.info("all %s ready", running)
            sdnotify.notify("READY=1", f"STATUS={running} running")

    def _shippers(self) -> int:
        return sum(spec.family == SHIPPER for spec in self.desired.values())

    # -- stopping ----------------------------------------------------------------------

    def _drain(self) -> None:
        self._draining = True
        self.restarts.clear()
        running = counted(c.spec for c in self.children.values())
        log.info("stopping: draining %s (signal again to force)", running)
        sdnotify.notify("STOPPING=1")
        for child in self.children.values():
            child.stop()

    def _force(self) -> int:
        running = counted(c.spec for c in self.children.values())
        log.warning("forced stop: killing %s; their claims are retried later", running)
        for child in self.children.values():
            child.kill()
        for child in self.children.values():
            child.process.wait()
            child.close_pipe()
        self.children.clear()
        return INTERRUPTED
