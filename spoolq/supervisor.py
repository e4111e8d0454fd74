"""``spoolq run``: every enabled component in its own child process, kept running.

The loop owns all state; signal handlers only count or flag (and wake the loop
through ``signal.set_wakeup_fd``):

- a child that exits on its own is restarted after ``restart_delay``, doubled
  for each further crash up to ``restart_cap``; a child that ran longer than
  ``stable_after`` starts the count again;
- SIGTERM / SIGINT: every child gets SIGTERM and drains; when all have exited,
  :meth:`Supervisor.run` returns 0.  A second one: every child gets SIGKILL
  (claims in flight stay locked and are retried once stale); returns 130;
- SIGHUP: the configuration is read again.  Invalid: logged, the running one is
  kept.  Valid: new components start, removed ones drain, changed ones drain
  and start again with the new settings;
- READY=1 goes to systemd once every enabled component reported ready (again
  after a reload).
"""

from __future__ import annotations

import logging
import os
import select
import signal
import time
from collections.abc import Callable, Mapping, Sequence

from spoolq import sdnotify
from spoolq.child_process import ComponentProcess
from spoolq.config import ComponentConfig, Config
from spoolq.errors import ConfigError

log = logging.getLogger(__name__)

DRAINED = 0
FORCED = 130
CommandFor = Callable[[ComponentConfig], Sequence[str]]


class Supervisor:
    """Starts, restarts and stops the component processes of one configuration."""

    def __init__(
        self,
        config: Config,
        reload: Callable[[], Config],
        command_for: CommandFor,
        *,
        env: Mapping[str, str] | None = None,
        restart_delay: float = 0.5,
        restart_cap: float = 60.0,
        stable_after: float = 30.0,
    ):
        self.config = config
        self._reload_config = reload
        self._command_for = command_for
        self._env = dict(os.environ if env is None else env)
        self.restart_delay, self.restart_cap, self.stable_after = restart_delay, restart_cap, stable_after
        self.children: dict[str, ComponentProcess] = {}
        self.desired: dict[str, ComponentConfig] = {}
        self._restart_at: dict[str, float] = {}
        self._crashes: dict[str, int] = {}
        self._stop_signals = 0
        self._reload_requested = False
        self._draining = self._ready_announced = False

    # -- signal handlers: flags only -------------------------------------------------

    def _on_stop(self, signum, frame) -> None:
        self._stop_signals += 1

    def _on_hangup(self, signum, frame) -> None:
        self._reload_requested = True

    # -- the loop ----------------------------------------------------------------------

    def run(self) -> int:
        """Supervise until drained (0) or forced (130). Must run in the main thread."""
        wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        handlers = {
            signal.SIGTERM: self._on_stop,
            signal.SIGINT: self._on_stop,
            signal.SIGHUP: self._on_hangup,
            signal.SIGCHLD: lambda signum, frame: None,  # only to wake the loop
        }
        previous = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
        previous_wakeup = signal.set_wakeup_fd(wake_write, warn_on_full_buffer=False)
        try:
            self.apply(self.config)
            return self._loop(wake_read)
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            for signum, handler in previous.items():
                signal.signal(signum, handler)
            os.close(wake_read)
            os.close(wake_write)

    def _loop(self, wake_read: int) -> int:
        while True:
            if self._stop_signals >= 2:
                return self._force()
            if self._stop_signals == 1 and not self._draining:
                self._drain()
            if self._reload_requested and not self._draining:
                self._reload_requested = False
                self.reload()
            self._reap()
            if self._draining and not self.children:
                log.info("all components stopped")
                return DRAINED
            if not self._draining:
                self._start_due()
                self._announce_ready()
            self._wait(wake_read)

    def _wait(self, wake_read: int) -> None:
        timeout = 1.0
        if self._restart_at:
            timeout = max(0.0, min(timeout, min(self._restart_at.values()) - time.monotonic()))
        pipes = {c.ready_fd: c for c in self.children.values() if c.ready_fd is not None}
        readable, _, _ = select.select([wake_read, *pipes], [], [], timeout)
        for fd in readable:
            if fd == wake_read:
                while True:
                    try:
                        if not os.read(wake_read, 512):
                            break
                    except BlockingIOError:
                        break
            else:
                child = pipes[fd]
                child.read_ready()
                if child.ready:
                    log.info("component %s is ready (pid %d)", child.name, child.pid)

    # -- what runs ---------------------------------------------------------------------

    def apply(self, config: Config) -> None:
        """Make the running set match ``config``: start new, stop removed, restart changed."""
        everything_changed = _globals(config) != _globals(self.config)
        self.config = config
        old, self.desired = self.desired, {c.name: c for c in config.enabled_components()}
        for name in list(old):
            if name not in self.desired:
                self._restart_at.pop(name, None)
                if name in self.children:
                    log.info("component %s removed from the configuration: stopping it", name)
                    self.children[name].stop()
        for name, component in self.desired.items():
            if name in self.children:
                if everything_changed or old.get(name) != component:
                    log.info("component %s changed: restarting it", name)
                    self.children[name].stop()  # started again when it has exited
            elif name not in self._restart_at:
                self._start(component)
        if not self.desired:
            log.warning("no enabled components in the configuration")

    def reload(self) -> None:
        """SIGHUP: read the configuration again; keep the running one if it is invalid."""
        try:
            config = self._reload_config()
        except ConfigError as exc:
            log.error("configuration reload failed, keeping the running configuration: %s", exc)
            return
        log.info("configuration reloaded from %s", config.path)
        sdnotify.notify("RELOADING=1")
        self._ready_announced = False
        self.apply(config)

    def _start(self, component: ComponentConfig) -> None:
        try:
            child = ComponentProcess(component, self._command_for(component), self._env)
        except OSError as exc:
            log.error("cannot start component %s: %s", component.name, exc)
            self._schedule_restart(component.name, 0.0)
            return
        self.children[component.name] = child
        log.info("started component %s (pid %d)", component.name, child.pid)

    def _reap(self) -> None:
        for name, child in list(self.children.items()):
            status = child.poll()
            if status is None:
                continue
            child.close_pipe()
            del self.children[name]
            if self._draining or child.stopping:
                log.info("component %s stopped (status %s)", name, status)
                if not self._draining and name in self.desired:
                    self._start(self.desired[name])  # a changed component comes back
            elif name in self.desired:
                self._schedule_restart(name, time.monotonic() - child.started_at, status)

    def _schedule_restart(self, name: str, ran_for: float, status: int | None = None) -> None:
        crashes = 1 if ran_for >= self.stable_after else self._crashes.get(name, 0) + 1
        self._crashes[name] = crashes
        delay = min(self.restart_cap, self.restart_delay * 2 ** (crashes - 1))
        log.warning(
            "component %s exited unexpectedly (status %s); restarting in %.1f s (restart %d)",
            name,
            status,
            delay,
            crashes,
        )
        self._restart_at[name] = time.monotonic() + delay

    def _start_due(self) -> None:
        now = time.monotonic()
        for name, due in list(self._restart_at.items()):
            if due <= now:
                del self._restart_at[name]
                if name in self.desired and name not in self.children:
                    log.info("restarting component %s", name)
                    self._start(self.desired[name])

    def _announce_ready(self) -> None:
        if self._ready_announced:
            return
        if all(name in self.children and self.children[name].ready for name in self.desired):
            self._ready_announced = True
            log.info("all %d components ready", len(self.desired))
            sdnotify.notify("READY=1", f"STATUS={len(self.desired)} components running")

    # -- stopping ----------------------------------------------------------------------

    def _drain(self) -> None:
        self._draining = True
        self._restart_at.clear()
        log.info("stopping: draining %d components (signal again to force)", len(self.children))
        sdnotify.notify("STOPPING=1")
        for child in self.children.values():
            child.stop()

    def _force(self) -> int:
        log.warning("forced stop: killing %d components; their claims are retried later", len(self.children))
        for child in self.children.values():
            child.kill()
        for child in self.children.values():
            child.process.wait()
            child.close_pipe()
        self.children.clear()
        return FORCED


def _globals(config: Config) -> tuple:
    """The settings every component reads: a change restarts them all."""
    return (config.root, config.durable, config.granularity, config.metrics_dir, config.path)
