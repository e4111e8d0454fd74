"""Metrics: prometheus_client registries, their textfiles, and a whole root's figures as one exposition.

prometheus_client costs every process that imports it a few hundredths of a
second, which ``spoolq stats`` run from cron should not pay for a ``--prom``
it was not given.  A caller that needs metrics only sometimes imports this
package and uses the name below, loaded when first asked for (a module
``__getattr__``, PEP 562); the daemons, which always make metrics, import the
modules themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spoolq.metrics.export import prometheus_stats

__all__ = ["prometheus_stats"]


def __getattr__(name: str) -> object:
    if name == "prometheus_stats":
        from spoolq.metrics.export import prometheus_stats

        return prometheus_stats
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
