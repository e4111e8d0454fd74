"""The tick: a timer message that lets a handler act on time passing.

A component runtime calls a handler only when a message arrives, so ages
(a Policy Engine group waiting too long) and timeouts (a silent worker) are
checked on each message *and* on each ``TICK``.  A component with the ``tick``
key (:mod:`spoolq.component.ticker`) puts one into its own spool every
``tick`` seconds; a tick has an empty JSON body and needs no reply.
"""

from __future__ import annotations

from spoolq.catalogue.fields import build
from spoolq.message import Message

TICK = "TICK"


def tick() -> Message:
    return build(TICK, {})
