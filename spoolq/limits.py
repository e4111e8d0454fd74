"""The bounds on what a message from outside may carry, in one place.

Every parser of outside bytes (:mod:`spoolq.envelope`, :mod:`spoolq.routing`)
refuses what goes past these with its one documented error, before the
thing past the bound is built in memory or recursed into.  They are far
above what any valid message needs, so a valid message never meets them;
they exist so that one hostile or broken message costs a bounded amount
of time, memory and stack.  Documented in docs/foundation.md (the message
format) and docs/operations.md ("Bad input").
"""

from __future__ import annotations

#: Brackets (``{`` or ``[``) open at once in an envelope.  A valid one needs 2
#: (the envelope object and its header object); up to this many the field
#: checks name what is wrong, past it the envelope is refused before parsing.
MAX_NESTING = 32

#: Fields in a message header.  spoolq itself writes about fifteen at most.
MAX_HEADERS = 256

#: Characters in one header field name.
MAX_HEADER_NAME = 256

#: Characters in one header field value (a parked reason is cut to fit).
MAX_HEADER_VALUE = 64 * 1024

#: Bytes a compressed (``zlib``) body may inflate to: a small element must
#: not unpack into gigabytes.
MAX_INFLATED_BODY = 64 * 1024 * 1024

#: Brackets open at once in a JSON configuration file (a PanDA processor configuration).
MAX_DOCUMENT_NESTING = 64

#: Characters in the NODE part of a ``COMPONENT@NODE`` address (RabbitMQ's bound on a queue name).
MAX_NODE_NAME = 255
