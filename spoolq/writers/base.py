"""The one shape of a writer plugin: something that produces messages into a spool root.

A writer is the edge where data enters the system (a file written, a datagram
received) and messages leave for a component's spool.  Subclasses define
:meth:`write`; ``emit`` puts one message into a named spool at once.
"""

from __future__ import annotations

from typing import Any

from spoolq.message import Message
from spoolq.root import SpoolRoot


class Writer:
    """Base class of writers, bound to one spool root."""

    name: str = ""

    def __init__(self, root: SpoolRoot):
        self.root = root

    def write(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define write(...)")

    def emit(self, spool: str, message: Message) -> str:
        """Put ``message`` into ``spool`` now; return its element name."""
        return self.root.spool(spool).put(message)
