"""Finding a shipper kind: ``ship`` and ``receive`` built in, others by ``module:attr`` or entry point.

A ``[shippers.NAME]`` table's ``kind`` is looked up like a handler's name
(:func:`spoolq.plugins.find`): a built-in kind, then ``module:attr``, then an
entry point of the group ``spoolq.shippers``.  What is found must be a
:class:`~spoolq.shippers.base.Shipper` subclass; its
:meth:`~spoolq.shippers.base.Shipper.from_config` builds it from the tables.
"""

from __future__ import annotations

from spoolq.plugins import Family, find_subclass
from spoolq.shippers.base import Shipper

BUILTINS = {
    "ship": "spoolq.shippers.stomp:StompShipper",
    "receive": "spoolq.shippers.receiver:StompReceiver",
}

#: The shipper family: its built-in kinds and its entry-point group.
SHIPPERS = Family("shipper kind", "spoolq.shippers", BUILTINS)


def shipper_class(kind: str) -> type[Shipper]:
    """The :class:`Shipper` subclass of ``kind``; :class:`PluginNotFound` saying why not."""
    return find_subclass(SHIPPERS, kind, Shipper)
