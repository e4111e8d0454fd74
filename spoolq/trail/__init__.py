"""A message's trail: one entry per hop, in a header that travels with the message.

Like e-mail's ``Received:`` lines, each place a message passes through adds
a line saying what happened, where and when: ``put`` (``spoolq put``),
``shipped`` (``spoolq ship`` sent it), ``received`` (``spoolq receive``
wrote it), ``handled`` and ``replied`` (a component answered it; the reply
carries the request's trail, then these two).  A slow round trip across
nodes can then be read hop by hop with ``spoolq show``.

The trail is the envelope header ``trail`` (:mod:`spoolq.trail.entries`
gives its format and its bound), so it travels wherever the header does.
"""

from spoolq.trail.entries import (
    HANDLED,
    PUT,
    RECEIVED,
    REPLIED,
    SHIPPED,
    TRAIL,
    Entry,
    extended,
    local_node,
    parse,
    stamp,
    stamped,
)
from spoolq.trail.render import render

__all__ = [
    "HANDLED", "PUT", "RECEIVED", "REPLIED", "SHIPPED", "TRAIL",
    "Entry", "extended", "local_node", "parse", "render", "stamp", "stamped",
]  # fmt: skip
