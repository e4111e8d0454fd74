"""Retries that survive a crash: the attempt count and due time live in the message.

A message to be tried again is written back into its spool as a *new*
element, with these headers, and only then is the old element removed
(rewrite, then ack: a crash in between duplicates, never loses):

``attempt``     the number of the next attempt (the first attempt is 1; a
                message without the header is on its first attempt)
``not-before``  Unix time before which no worker handles it; workers that
                meet it early put it back and look again when it is due.
                One that is not a number, or further ahead than the
                policy's ``max_delay``, is no retry's: the message is parked
``retry-reason`` why the last attempt failed (the last line of the reason:
                for a traceback, the exception)

A message parked after retries is parked *as it arrived* (:func:`as_arrived`),
so that a replay puts back exactly those bytes.  The first rewrite checks
that dropping the headers above from the rewritten message gives back the
arrived bytes (it does for every message spoolq encoded); when it would not
(another encoder's spacing, or a sender's own ``attempt`` header), the
rewrite also carries the arrived bytes, base64, in ``retry-arrived``.
``retry-reason`` marks a rewrite, so a sender must not set it.

Other messages are never held up: a deferred message holds no lock and no
worker while it waits.
"""

from __future__ import annotations

import base64
import binascii
import math
import time

from spoolq import envelope
from spoolq.config import RetryPolicy
from spoolq.errors import MalformedMessage
from spoolq.message import Message

ATTEMPT = "attempt"
NOT_BEFORE = "not-before"
RETRY_REASON = "retry-reason"
RETRY_ARRIVED = "retry-arrived"
CLOCK_SLACK = 60.0  # seconds a clock may have stepped back since a retry wrote its not-before
ADDED = (ATTEMPT, NOT_BEFORE, RETRY_REASON, RETRY_ARRIVED)  # every header a rewrite adds


def attempt_of(message: Message) -> int:
    """The attempt this handling is (1 for a message never tried before)."""
    value = message.header.get(ATTEMPT)
    if value is None:  # the common case, without parsing a default (read for every message)
        return 1
    try:
        return max(1, int(value))
    except ValueError:
        return 1


def not_before(message: Message, policy: RetryPolicy, now: float) -> float:
    """The Unix time the message is due: 0 when it carries no ``not-before``.

    No retry writes one further ahead than ``policy.max_delay`` (a handler's
    own ``delay`` too is at most that).  A value that is not a finite number,
    or that lies further ahead than that (and :data:`CLOCK_SLACK`, for a clock
    stepped back since), was written by someone else: honoured, it would hold
    the message for good (``1e999999`` reads as infinity).  It raises
    :class:`MalformedMessage`, and the message is parked with the reason.
    """
    value = message.header.get(NOT_BEFORE)
    if value is None:
        return 0.0
    try:
        due = float(value)
    except ValueError:
        due = math.nan
    if not math.isfinite(due):
        raise MalformedMessage(f"header {NOT_BEFORE} {value[:100]!r} is not a Unix time")
    ahead = due - now
    if ahead > policy.max_delay + CLOCK_SLACK:
        raise MalformedMessage(
            f"header {NOT_BEFORE} {value[:100]!r} is {ahead:.0f} s ahead, more than max_delay"
            f" ({policy.max_delay:g} s): no retry writes that; it would hold the message back"
        )
    return due


def backoff(policy: RetryPolicy, attempt: int, requested: float | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt``: ``requested`` (a handler's
    ``Retry(delay=...)``) or the policy's exponential backoff, at most ``max_delay`` either way."""
    if requested is not None:
        return min(policy.max_delay, max(0.0, requested))
    return min(policy.max_delay, policy.backoff * policy.backoff_factor ** max(0, attempt - 1))


def next_attempt(message: Message, data: bytes, attempt: int, delay: float, reason: str) -> Message:
    """The message (read from the bytes ``data``) as written back for attempt ``attempt + 1``."""
    last_line = (reason.strip().splitlines() or [""])[-1][:500]
    added = {
        ATTEMPT: str(attempt + 1),
        NOT_BEFORE: f"{time.time() + max(0.0, delay):.6f}",
        RETRY_REASON: last_line,
    }
    if RETRY_REASON not in message.header and not _restorable(message, data):
        added[RETRY_ARRIVED] = base64.b64encode(data).decode("ascii")
    return message.with_header(**added)


def _restorable(message: Message, data: bytes) -> bool:
    """Whether dropping the added headers from a rewrite of ``message`` gives back ``data``."""
    if any(key in message.header for key in ADDED):
        return False
    return envelope.encode(message) == data


def as_arrived(data: bytes) -> bytes:
    """The bytes a message first arrived as, given the bytes of its latest element ``data``."""
    try:
        header = envelope.header_of(data)
        if not header or RETRY_REASON not in header:
            return data  # never rewritten (or not an envelope at all): as it arrived
        message = envelope.decode(data)
    except (MalformedMessage, RecursionError):
        return data
    arrived = message.header.get(RETRY_ARRIVED)
    if arrived is not None:
        try:
            return base64.b64decode(arrived, validate=True)
        except (binascii.Error, ValueError):
            return data
    return envelope.encode(message.with_header(**dict.fromkeys(ADDED)))
