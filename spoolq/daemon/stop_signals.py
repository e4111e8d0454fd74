"""The stop signals a daemon received, and the exit code they call for: one rule for every daemon.

``spoolq watch``, ``ship``, ``receive``, ``run``, ``udp-proxy`` and ``tail -f``
all stop on SIGTERM or SIGINT; the first drains, a second stops at once.
Their exit code follows the README's table:

- 0 after a SIGTERM that drained: a service manager's ordinary stop;
- 130 after a SIGINT (Ctrl-C, drained or not) or after a second signal, as
  a shell expects of a command interrupted from the keyboard.

Signal handlers only :meth:`StopSignals.add`; the main loop reads the rest.
"""

from __future__ import annotations

import signal

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
DRAINED = 0
INTERRUPTED = 130  # 128 + SIGINT


class StopSignals:
    """A count of stop signals, and whether one was SIGINT."""

    def __init__(self) -> None:
        self.count = 0
        self.interrupted = False

    def add(self, signum: int) -> None:
        """Record ``signum`` if it is a stop signal (safe to call from a signal handler)."""
        if signum in STOP_SIGNALS:
            self.count += 1
            self.interrupted = self.interrupted or signum == signal.SIGINT

    @property
    def stopping(self) -> bool:
        return self.count >= 1

    @property
    def forced(self) -> bool:
        return self.count >= 2

    def exit_code(self) -> int:
        """0 after one SIGTERM, 130 after a SIGINT or a second signal."""
        return INTERRUPTED if self.interrupted or self.forced else DRAINED
