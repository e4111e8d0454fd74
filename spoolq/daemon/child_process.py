"""One component or shipper running as a child process of the supervisor, and its ready pipe.

Each component and shipper runs in its own process so that a crash of one
cannot take down another.  The child learns the write end of a pipe from
``$SPOOLQ_READY_FD`` and writes ``ready\\n`` to it once it is ready (a
component: its watches are in place and its first scan is done; a shipper:
its first connection attempt has connected or failed); the supervisor reads
the other end.  The child gets its own process group, so that a Ctrl-C in a
terminal reaches the supervisor only, which then decides what the children
get (drain first, force on the second signal); and if the supervisor itself
dies, the kernel sends each child SIGTERM.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence

from spoolq.config.source import CONFIG_FD_ENV, hand_down
from spoolq.daemon.run_plan import ChildSpec

READY_FD_ENV = "SPOOLQ_READY_FD"
PR_SET_PDEATHSIG = 1  # linux/prctl.h
READY_LINE = b"ready\n"


def report_ready() -> bool:
    """Child side: tell the supervisor this child is ready (once; no-op if not supervised)."""
    fd_text = os.environ.pop(READY_FD_ENV, "")
    if not fd_text.isdigit():
        return False
    try:
        os.write(int(fd_text), READY_LINE)
        os.close(int(fd_text))
    except OSError:
        return False  # the supervisor is gone; nothing to report to
    return True


class ChildProcess:
    """A started child: its process, its ready pipe, and why it is stopping, if it is."""

    def __init__(
        self,
        spec: ChildSpec,
        command: Sequence[str],
        env: Mapping[str, str],
        config_text: bytes | None = None,
    ):
        """``config_text``: the configuration the child must run, handed down (spoolq.config.source)."""
        self.spec = spec
        self.key = spec.key  # "component pe", "shipper out"
        self.started_at = time.monotonic()
        self.ready = False
        self.stopping = False  # a stop was asked for: its exit is not a crash
        read_end, write_end = os.pipe2(os.O_CLOEXEC)
        passed = {READY_FD_ENV: write_end}
        try:
            if config_text is not None:
                passed[CONFIG_FD_ENV] = hand_down(config_text)
            self.process = subprocess.Popen(
                list(command),
                env={**env, **{name: str(fd) for name, fd in passed.items()}},
                pass_fds=tuple(passed.values()),
                stdin=subprocess.DEVNULL,
                process_group=0,
                preexec_fn=_drain_when_orphaned(os.getpid()),
            )
        except OSError:
            os.close(read_end)
            raise
        finally:
            for fd in passed.values():
                os.close(fd)
        self.ready_fd: int | None = read_end

    @property
    def pid(self) -> int:
        return self.process.pid

    def read_ready(self) -> None:
        """Called when the ready pipe is readable: a ready line, or EOF (the child closed it)."""
        assert self.ready_fd is not None
        data = os.read(self.ready_fd, 64)
        if READY_LINE.strip() in data:
            self.ready = True
        if not data or self.ready:
            self.close_pipe()

    def close_pipe(self) -> None:
        if self.ready_fd is not None:
            os.close(self.ready_fd)
            self.ready_fd = None

    def poll(self) -> int | None:
        """The exit status once the child has exited (reaped), else ``None``."""
        return self.process.poll()

    def stop(self) -> None:
        """Ask the child to drain: SIGTERM (it finishes in-flight messages, claims nothing new)."""
        self.stopping = True
        self._send(signal.SIGTERM)

    def kill(self) -> None:
        """Stop at once: claims in flight stay locked and are retried once their lock is stale."""
        self.stopping = True
        self._send(signal.SIGKILL)

    def _send(self, signum: int) -> None:
        if self.process.returncode is None:
            try:
                self.process.send_signal(signum)
            except ProcessLookupError:
                pass  # exited between poll and kill; reaped on the next poll


def _drain_when_orphaned(supervisor_pid: int):
    """A pre-exec hook: the child gets SIGTERM (drains) if the supervisor dies, even by SIGKILL.

    Runs in the child between fork and exec.  The supervisor may have died
    before the request took effect: then the child ends at once.
    """

    def request_parent_death_signal() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != supervisor_pid:
            os._exit(1)

    return request_parent_death_signal
