"""The one root of every error spoolq raises, and the families under it.

A caller that wants to handle "anything spoolq said no to" catches
:class:`SpoolqError`; the CLI turns each family into one line on stderr and a
named exit code.  Every message says what went wrong, where, and (when there is
something to do) what to do.
"""

from __future__ import annotations


class SpoolqError(Exception):
    """Root of all spoolq errors."""


class ConfigError(SpoolqError):
    """A configuration file or option is invalid; the text names file and key."""


class SpoolError(SpoolqError):
    """A spool could not be opened, read or written."""


class SpoolWriteError(SpoolError):
    """An element could not be written (permissions, full disk, not a directory).

    Nothing half-written is ever left visible when this is raised: the temporary
    file, if one was created, has been removed again.
    """


class ElementNotFound(SpoolError):
    """The named element does not exist (any more) in the spool."""


class NotLocked(SpoolError):
    """An operation that needs the element's lock was attempted without it."""


class MessageError(SpoolqError):
    """A message could not be built or serialised."""


class MalformedMessage(MessageError):
    """Bytes that claim to be an envelope are not a valid one.

    ``where`` names the element (``spool/dir/name``) when known, so that the
    consumer can park it with this exact reason.
    """

    def __init__(self, reason: str, where: str | None = None):
        self.reason = reason
        self.where = where
        super().__init__(f"{where}: {reason}" if where else reason)


class PluginNotFound(ConfigError):
    """A plugin name (handler, writer, shipper kind) names no built-in, no ``module:attr``
    and no installed entry point; the text lists the names that are known."""


class WriteRefused(SpoolqError):
    """A writer cannot turn an item into a message; nothing was written.

    ``kind`` is one word to count it under (``malformed``, ``oversized``),
    ``reason`` says what is wrong with the item.
    """

    def __init__(self, reason: str, kind: str = "refused"):
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


class HandlerError(SpoolqError):
    """A handler could not be found, loaded or run as configured."""


class HandlerNotFound(HandlerError, PluginNotFound):
    """A handler name names no built-in handler, no importable ``module:attr`` and no entry point."""


class ShipError(SpoolqError):
    """Relaying messages through a broker failed (see the subclasses)."""


class BrokerUnavailable(ShipError):
    """No broker of the failover list accepted a connection within the timeout."""


class SecurityError(ShipError):
    """A message's signature, encryption or signer failed the checks; the text says which."""


class MessageTooLarge(ShipError):
    """A message is larger than the configured limit and was not sent."""


# -- verdicts a handler raises on purpose (not errors: the runtime acts on them) --------


class Retry(Exception):  # noqa: N818  (a request, not an error)
    """Ask for the message to be handled again after ``delay`` seconds.

    ``delay=None`` lets the component's retry policy choose (exponential backoff).
    Either way the wait is at most the policy's ``max_delay``.
    """

    def __init__(self, reason: str = "retry requested", delay: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


class Reject(Exception):  # noqa: N818  (a verdict, not an error)
    """Park the message now, with ``reason``; no further attempts."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
