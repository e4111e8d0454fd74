"""Components: a spool, its handlers, and the threads that serve it (see ``runtime``).

:class:`~spoolq.component.runtime.Component` is loaded when first asked for
(a module ``__getattr__``, PEP 562), not when the package is: the CLI's
``find`` and ``retry`` read this package's light modules (``retry``,
``retry_now``) and must not pay for the runtime and its prometheus_client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spoolq.component.runtime import Component

__all__ = ["Component"]


def __getattr__(name: str) -> object:
    if name == "Component":
        from spoolq.component.runtime import Component

        return Component
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
