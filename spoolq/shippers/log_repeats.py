"""Warnings said once while they repeat, then as a count: no log flood from a refusing broker.

A broker that accepts each connection and then refuses every SEND (a queue
declared with another ``x-queue-type``, a queue whose node is down) answers
each reconnect with the same ERROR frame, and the shipper says each time that
the connection was lost.  Logged line by line that was hundreds of identical
lines a minute, burying whatever else happened.  So each warning (by its
``key``) is said the first time; while it keeps coming it is only counted,
and said as ``... (again N times in the last M s)`` once ``interval`` seconds
have passed, and at :meth:`RepeatedWarnings.flush`: when the shipper made
progress again, or stops.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

SUMMARY_INTERVAL = 60.0  # seconds between the counts of a warning that keeps repeating
KEPT = 100  # distinct warnings remembered (the oldest is said and forgotten first)


@dataclass
class _Repeats:
    text: str  # the latest words of the warning
    said_at: float  # when it, or its count, was last said
    count: int = 0  # repeats since then


class RepeatedWarnings:
    """One logger's warnings, each said once per ``interval`` while the same ``key`` repeats."""

    def __init__(self, log: logging.Logger, interval: float = SUMMARY_INTERVAL):
        self.log = log
        self.interval = interval
        self._lock = threading.Lock()  # stomp.py's reader thread says error frames, the loop the rest
        self._seen: OrderedDict[str, _Repeats] = OrderedDict()

    def warning(self, key: str, text: str) -> None:
        """Say ``text``, unless a warning of the same ``key`` was said less than ``interval`` ago."""
        now = time.monotonic()
        with self._lock:
            self._say_counts_due(now)
            seen = self._seen.get(key)
            if seen is not None:
                seen.count += 1
                seen.text = text
                return
            self._seen[key] = _Repeats(text, now)
            while len(self._seen) > KEPT:
                self._say_count(self._seen.popitem(last=False)[1], now)
        self.log.warning("%s", text)

    def flush(self) -> None:
        """Say the counts not said yet, and forget every warning: the next of each is said again."""
        if not self._seen:
            return
        now = time.monotonic()
        with self._lock:
            for seen in self._seen.values():
                self._say_count(seen, now)
            self._seen.clear()

    def _say_counts_due(self, now: float) -> None:
        for key in [k for k, seen in self._seen.items() if now - seen.said_at >= self.interval]:
            self._say_count(self._seen.pop(key), now)  # its next one is said in full

    def _say_count(self, seen: _Repeats, now: float) -> None:
        if seen.count:
            elapsed = now - seen.said_at
            self.log.warning("%s (again %d times in the last %.0f s)", seen.text, seen.count, elapsed)
