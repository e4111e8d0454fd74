"""A broker's ERROR frames, and which sends in flight they refuse.

A broker that will not take a message answers with an ERROR frame instead of
a RECEIPT.  RabbitMQ, for example, says ``Invalid destination`` or ``Unknown
destination`` and keeps the connection, or ``not_found`` (``no exchange 'x'``)
and closes it; neither frame carries the ``receipt-id`` of the SEND.  Without
care the shipper sends such a message again after every ``receipt_timeout``
or reconnect, forever.

So an ERROR frame counts as a refusal of a send in flight only when it names
that send: by its ``receipt-id``, or by quoting its destination (whole, the
part after the broker's ``/queue`` or ``/topic`` prefix, or one of its names).
A broker that goes away says nothing of the sort, so an outage never counts
against a message.  :class:`RefusalCount` keeps the count per element; after
:data:`MAX_REFUSALS` the shipper parks the element with the broker's words.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass

MAX_REFUSALS = 3  # tries a broker may refuse before the message is parked
_KEPT = 10_000  # elements whose refusals are remembered (the oldest are forgotten first)
_QUOTED = re.compile(r"'([^'\n]{1,1000})'|\"([^\"\n]{1,1000})\"")


@dataclass(frozen=True)
class Refusal:
    """One ERROR frame: the receipt it names (if any) and the broker's words."""

    receipt_id: str | None
    words: str

    @classmethod
    def from_frame(cls, headers: dict, body: bytes | str | None) -> Refusal:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
        message = str(headers.get("message", "")).strip()
        text = text.strip()[:1000]
        if message and text and (text in message or message in text):
            # ActiveMQ puts the same words in the header and the body: said once.
            message, text = (message, "") if len(message) >= len(text) else ("", text)
        words = " ".join(part for part in (message, text) if part)
        return cls(headers.get("receipt-id"), words or "ERROR frame without a message")

    def names(self, receipt: str, destination: str) -> bool:
        """Whether this refusal is about the send of ``receipt`` to ``destination``."""
        if self.receipt_id is not None:
            return self.receipt_id == receipt
        parts = [part for part in destination.split("/") if part]
        for quoted in _QUOTED.finditer(self.words):
            named = quoted.group(1) or quoted.group(2)
            if named == destination or (len(named) > 1 and named[0] == "/" and destination.endswith(named)):
                return True  # the whole destination, or its path after the broker's prefix
            if "/" not in named and named in parts[1:]:
                return True  # "no exchange 'x'": a name inside the destination
        return False


class RefusalCount:
    """How many times the broker refused each element, bounded in memory."""

    def __init__(self, limit: int = MAX_REFUSALS):
        self.limit = limit
        self._counts: OrderedDict[str, int] = OrderedDict()

    def add(self, element: str) -> bool:
        """Count one refusal of ``element``; ``True`` once it reached the limit."""
        count = self._counts.pop(element, 0) + 1
        self._counts[element] = count
        while len(self._counts) > _KEPT:
            self._counts.popitem(last=False)
        return count >= self.limit

    def forget(self, element: str) -> None:
        """The element left the spool (sent or parked): its count goes too."""
        self._counts.pop(element, None)

    def __len__(self) -> int:
        return len(self._counts)
