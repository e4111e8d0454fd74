"""When a crashed component is started again: exponential backoff with a cap.

The first restart waits ``delay``, each further one twice as long, never more
than ``cap``.  A component that ran ``stable_after`` seconds or longer before
it crashed starts the count again, so that one crash a day never waits long.
"""

from __future__ import annotations

import time


class RestartSchedule:
    """Pending restarts by component name, with the crash count of each."""

    def __init__(self, delay: float = 0.5, cap: float = 60.0, stable_after: float = 30.0):
        self.delay, self.cap, self.stable_after = delay, cap, stable_after
        self._due: dict[str, float] = {}
        self._crashes: dict[str, int] = {}

    def crashed(self, name: str, ran_for: float) -> tuple[float, int]:
        """Schedule ``name``'s restart; returns (seconds to wait, restart number)."""
        crashes = 1 if ran_for >= self.stable_after else self._crashes.get(name, 0) + 1
        self._crashes[name] = crashes
        wait = min(self.cap, self.delay * 2 ** (crashes - 1))
        self._due[name] = time.monotonic() + wait
        return wait, crashes

    def pending(self, name: str) -> bool:
        return name in self._due

    def cancel(self, name: str) -> None:
        self._due.pop(name, None)

    def clear(self) -> None:
        self._due.clear()

    def take_due(self) -> list[str]:
        """Names whose wait is over (removed from the schedule)."""
        now = time.monotonic()
        due = [name for name, at in self._due.items() if at <= now]
        for name in due:
            del self._due[name]
        return due

    def seconds_to_next(self) -> float | None:
        """How long the loop may sleep before a restart is due (``None``: none is pending)."""
        if not self._due:
            return None
        return max(0.0, min(self._due.values()) - time.monotonic())
