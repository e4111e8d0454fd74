"""What a handled message leaves behind: its answer record."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from spoolq.message import Message
from spoolq.spool import Claim


class Answered(NamedTuple):
    """A message its handler has answered; its output waits for ``Processor.commit``.

    A named tuple: one is built per message, and it is cheaper than a frozen dataclass.
    """

    claim: Claim
    data: bytes
    message: Message
    attempt: int
    output: list[tuple[str, Message]]  # (spool name, message): replies first, then the outbox


def as_messages(result: None | Message | Iterable[Message]) -> list[Message]:
    """What ``handle`` returned, as a list of messages (``TypeError`` for anything else)."""
    if result is None:
        return []
    if isinstance(result, Message):
        return [result]
    replies = list(result)
    for reply in replies:
        if not isinstance(reply, Message):
            raise TypeError(f"a handler returned {type(reply).__name__}, not a Message")
    return replies
