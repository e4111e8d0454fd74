"""Finding a writer by name: built-ins, then ``module:attr``, then the ``spoolq.writers`` entry points.

The library ships no writer of its own: the writers of an application (the
Enstore reference's ``disk_mover`` and ``udp_proxy``) and of any installed
package are entry points of the group ``spoolq.writers``
(:func:`spoolq.plugins.find`).  What is found must be a
:class:`~spoolq.writers.base.Writer` subclass; its constructor's arguments
are the writer's own, so the caller that chose it constructs it.
"""

from __future__ import annotations

from spoolq.plugins import Family, find_subclass
from spoolq.writers.base import Writer

BUILTINS: dict[str, str] = {}

#: The writer family: its built-ins and its entry-point group.
WRITERS = Family("writer", "spoolq.writers", BUILTINS)


def writer_class(name: str) -> type[Writer]:
    """The :class:`Writer` subclass ``name`` names; :class:`PluginNotFound` saying why not."""
    return find_subclass(WRITERS, name, Writer)
