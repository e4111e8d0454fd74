"""The tick as the catalogue handlers see it: the runtime's ``TICK``, re-exported.

A Policy Engine group waiting too long and a silent migration worker are
noticed on each message *and* on each ``TICK``, which a component with the
``tick`` key puts into its own spool (:mod:`spoolq.component.timer`).  The
catalogue uses the runtime's message as it is; it adds nothing to it.
"""

from __future__ import annotations

from spoolq.component.timer import TICK, tick

__all__ = ["TICK", "tick"]
