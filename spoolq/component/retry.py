"""Retries that survive a crash: the attempt count and due time live in the message.

A message to be tried again is written back into its spool as a *new*
element, with two headers, and only then is the old element removed
(rewrite, then ack: a crash in between duplicates, never loses):

``attempt``     the number of the next attempt (the first attempt is 1; a
                message without the header is on its first attempt)
``not-before``  Unix time before which no worker handles it; workers that
                meet it early put it back and look again when it is due
``retry-reason`` why the last attempt failed (the last line of the reason:
                for a traceback, the exception)

Other messages are never held up: a deferred message holds no lock and no
worker while it waits.
"""

from __future__ import annotations

import time

from spoolq.config import RetryPolicy
from spoolq.message import Message

ATTEMPT = "attempt"
NOT_BEFORE = "not-before"
RETRY_REASON = "retry-reason"


def attempt_of(message: Message) -> int:
    """The attempt this handling is (1 for a message never tried before)."""
    value = message.header.get(ATTEMPT)
    if value is None:  # the common case, without parsing a default (read for every message)
        return 1
    try:
        return max(1, int(value))
    except ValueError:
        return 1


def not_before(message: Message) -> float:
    """The Unix time the message is due (0 when due at once or unreadable)."""
    value = message.header.get(NOT_BEFORE)
    if value is None:
        return 0.0
    try:
        return float(value)
    except ValueError:
        return 0.0


def backoff(policy: RetryPolicy, attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt``."""
    return min(policy.max_delay, policy.backoff * policy.backoff_factor ** max(0, attempt - 1))


def next_attempt(message: Message, attempt: int, delay: float, reason: str) -> Message:
    """The message as written back for attempt ``attempt + 1`` after ``delay`` seconds."""
    last_line = (reason.strip().splitlines() or [""])[-1][:500]
    return message.with_header(
        **{
            ATTEMPT: str(attempt + 1),
            NOT_BEFORE: f"{time.time() + max(0.0, delay):.6f}",
            RETRY_REASON: last_line,
        }
    )
