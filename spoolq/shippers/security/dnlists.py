"""Allow- and deny-lists of signer DNs: plain files, one DN per line, ``#`` comments.

Each list is re-read when its modification time changes.  A list that cannot
be read never stops the daemon: the error is logged and, until the file is
readable again, every signer is refused (failing closed).  An empty
allow-list allows nobody; an absent (not configured) allow-list allows any
signer the CA vouches for.  The deny-list always wins.
"""

from __future__ import annotations

import logging
import os

log = logging.getLogger("spoolq.security")


class DnList:
    """The DNs of one file, reloaded on change; ``None`` path means "not configured"."""

    def __init__(self, path: str | None):
        self.path = path
        self._mtime: float | None = None
        self._dns: frozenset[str] = frozenset()
        self.readable = True

    def dns(self) -> frozenset[str] | None:
        """The current DNs, or ``None`` when the file cannot be read."""
        try:
            mtime = os.stat(self.path).st_mtime_ns
            if mtime != self._mtime:
                with open(self.path, encoding="utf-8") as handle:
                    lines = (line.strip() for line in handle)
                    self._dns = frozenset(line for line in lines if line and not line.startswith("#"))
                self._mtime = mtime
            self.readable = True
            return self._dns
        except (OSError, UnicodeDecodeError) as exc:
            if self.readable:
                log.error("%s: cannot read DN list (refusing every signer until fixed): %s", self.path, exc)
            self.readable = False
            self._mtime = None
            return None


class SignerPolicy:
    """Decides whether a signer DN may send us messages."""

    def __init__(self, allow_list: str | None, deny_list: str | None):
        self.allow = DnList(allow_list) if allow_list else None
        self.deny = DnList(deny_list) if deny_list else None

    def refusal(self, dn: str) -> str | None:
        """Why ``dn`` is refused, or ``None`` when it is allowed."""
        if self.deny is not None:
            denied = self.deny.dns()
            if denied is None:
                return f"deny-list {self.deny.path} is unreadable: refusing every signer"
            if dn in denied:
                return f"signer {dn} is in the deny-list {self.deny.path}"
        if self.allow is not None:
            allowed = self.allow.dns()
            if allowed is None:
                return f"allow-list {self.allow.path} is unreadable: refusing every signer"
            if dn not in allowed:
                return f"signer {dn} is not in the allow-list {self.allow.path}"
        return None
