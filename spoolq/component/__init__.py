"""Components: a spool, its handlers, and the threads that serve it (see ``runtime``)."""

from spoolq.component.runtime import Component

__all__ = ["Component"]
