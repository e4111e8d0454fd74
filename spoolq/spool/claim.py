"""A claim: an element we hold locked until we ack (remove) or release it.

A claim works on its element's path alone (:mod:`spoolq.spool.element` holds
the lock protocol), so it needs of its spool only the directory: the queue
hands claims out, and nothing here refers back to it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from spoolq import envelope
from spoolq.message import Message
from spoolq.spool import element

if TYPE_CHECKING:
    from spoolq.spool.reaper import Reaper


class SpoolDirectory(Protocol):
    """What a claim needs of its spool: the directory (a :class:`~spoolq.spool.Spool` has it)."""

    path: str


class Claim:
    """A locked element, held by us until :meth:`ack` or :meth:`release`."""

    __slots__ = ("spool_path", "name", "path", "_data", "_dir_fd")

    def __init__(
        self,
        spool: SpoolDirectory,
        name: str,
        path: str | None = None,
        data: bytes | None = None,
        dir_fd: int | None = None,
    ):
        """``data``: the element's bytes if the caller has read them already.

        ``dir_fd``: a descriptor of the element's directory that stays open
        until the claim is acked or released (the ack unlinks relative to it).
        """
        self.spool_path = spool.path
        self.name = name
        self.path = path or f"{spool.path}/{name}"
        self._data = data
        self._dir_fd = dir_fd

    def __repr__(self) -> str:
        return f"Claim({self.spool_path!r}, {self.name!r})"

    @property
    def where(self) -> str:
        return self.path

    def read(self) -> bytes:
        if self._data is None:
            self._data = element.read(self.path)
        return self._data

    def message(self) -> Message:
        return envelope.decode(self.read(), where=self.where)

    def touch(self) -> None:
        """Refresh the lock so that a purge does not take it for stale."""
        element.touch(self.path)

    def ack(self, reaper: Reaper | None = None) -> None:
        """Done with it: remove the element (we hold its lock, so no re-check).

        With a ``reaper``, its thread removes the element, soon; it stays
        locked until then.
        """
        if reaper is None:
            if self._dir_fd is None:
                element.remove_locked(self.path)
            else:
                element.remove_locked_at(self._dir_fd, self.name[9:])
        else:
            reaper.remove(self.path)

    def release(self) -> None:
        """Not done: unlock so that it is handed out again."""
        element.unlock(self.path)
