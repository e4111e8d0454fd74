"""What ``spoolq top`` shows, read from the root as it is: spools, and the daemons serving them.

A :class:`Frame` is one look at a root: each spool's depth, oldest age and
parked count (from the spool itself), each component's counters and liveness
(from its metrics file, :mod:`spoolq.metrics.file`), each shipper's state
and counters (from its status file, :mod:`spoolq.shippers.status`).  Nothing
is kept between looks but the previous frame: a rate is the change of a
counter between two frames over the time between them, so the first frame
has none.  A counter that went down (its process restarted) counts from 0,
as Prometheus' ``rate`` does.

A spool's rate out is what its components took from it (handled, retried,
parked) plus what its sending shippers sent or parked; its rate in is the
rate out plus the change of its depth.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from spoolq.errors import SpoolqError
from spoolq.metrics.component import HANDLED, PARKED, RETRIED, UP, WRITTEN_AT
from spoolq.metrics.file import METRICS_DIR
from spoolq.metrics.textfiles import read_textfiles
from spoolq.shippers.status import shipper_rows
from spoolq.spool import SpoolRoot

#: Component counters whose sum is what a component took from its spool.
TAKEN = (HANDLED, RETRIED, PARKED)


@dataclass
class Daemon:
    """A component (``watch``) or a shipper (``ship``, ``receive``) and how it is doing."""

    name: str
    kind: str  # "watch", "ship" or "receive"
    spool: str
    state: str  # running, stopped, stale, failing; connected, waiting, login refused...
    reason: str = ""
    taken: float = 0.0  # counter: messages it took from (or, receive: wrote to) its spool
    parked: float = 0.0  # counter: messages it parked


@dataclass
class SpoolFigures:
    """One spool at one moment; rates are ``None`` until a second frame."""

    spool: str
    depth: int
    oldest_age: float | None
    parked: int
    rate_in: float | None = None
    rate_out: float | None = None


@dataclass
class Frame:
    """One look at a root."""

    at: float
    spools: list[SpoolFigures]
    daemons: list[Daemon] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # metrics files that could not be read

    def serving(self, spool: str) -> list[Daemon]:
        return [d for d in self.daemons if d.spool == spool]


def look(
    root: SpoolRoot,
    metrics_dir: str | None,
    stale_after: float,
    names: Sequence[str] = (),
    previous: Frame | None = None,
) -> Frame:
    """A :class:`Frame` of ``root`` now (spools ``names``, default all); rates against ``previous``.

    ``stale_after``: seconds without a metrics write after which a component
    whose file still says ``up`` is taken for killed.
    """
    now = time.time()
    daemons = []
    components, problems = _components(metrics_dir or os.path.join(root.path, METRICS_DIR), now, stale_after)
    daemons.extend(components)
    daemons.extend(_shippers(root.path))
    if names:
        daemons = [d for d in daemons if d.spool in names]
    frame = Frame(
        now, _spools(root, names), sorted(daemons, key=lambda d: (d.spool, d.kind, d.name)), problems
    )
    if previous is not None:
        _add_rates(frame, previous)
        _note_new_parking(frame, previous)
    return frame


def _spools(root: SpoolRoot, names: Sequence[str]) -> list[SpoolFigures]:
    figures = []
    parked_names = set(root.parked_names())
    for name in names or root.spool_names():
        try:
            stats = root.spool(name, create=False).stats()
            parked = root.parked(name, create=False).count() if name in parked_names else 0
        except (SpoolqError, OSError):
            continue  # removed since listed
        figures.append(SpoolFigures(name, stats.ready + stats.locked, stats.oldest_age, parked))
    return figures


def _components(directory: str, now: float, stale_after: float) -> tuple[list[Daemon], list[str]]:
    """Each component that has a metrics file, with its counters and whether it runs."""
    families, problems = read_textfiles(directory)
    found: dict[str, dict] = {}
    for family in families:
        for sample in family.samples:
            component, spool = sample.labels.get("component"), sample.labels.get("spool")
            if component is None or "shipper" in sample.labels:
                continue
            figures = found.setdefault(component, {"spool": component})
            if spool is not None:
                figures["spool"] = spool
            figures[sample.name] = sample.value
    daemons = []
    for name, figures in sorted(found.items()):
        taken = sum(figures.get(counter, 0.0) for counter in TAKEN)
        state, reason = _component_state(figures, now, stale_after)
        daemons.append(
            Daemon(name, "watch", figures["spool"], state, reason, taken, figures.get(PARKED, 0.0))
        )
    return daemons, problems


def _component_state(figures: dict, now: float, stale_after: float) -> tuple[str, str]:
    if figures.get(UP) == 0:
        return "stopped", ""
    written = figures.get(WRITTEN_AT)
    if written is None:
        return "unknown", "its metrics file has no write time"
    silent = now - written
    if silent > stale_after:
        return "stale", f"no metrics written for {silent:.0f} s: killed, or hung?"
    return "running", ""


#: A shipper's own state, as ``top`` says it: connected; waiting to reconnect; failing.
_SHIPPER_STATES = {"disconnected": "waiting", "login refused": "failing"}


def _shippers(root_path: str) -> list[Daemon]:
    daemons = []
    for row in shipper_rows(root_path):
        state = str(row.get("state", "unknown"))
        reason = str(row.get("last_error") or "") if state not in ("connected", "stopped") else ""
        if state == "stale":
            reason = f"its process {row.get('pid')} is gone"
        taken = float(row.get("done") or 0) + float(row.get("parked") or 0)
        daemons.append(
            Daemon(
                str(row.get("shipper") or "?"),
                str(row.get("kind") or "ship"),
                str(row.get("spool") or ""),
                _SHIPPER_STATES.get(state, state),
                reason,
                taken,
                float(row.get("parked") or 0),
            )
        )
    return daemons


def _increase(now: float, before: float) -> float:
    """How much a counter grew; one that went down restarted from 0."""
    return now - before if now >= before else now


def _add_rates(frame: Frame, previous: Frame) -> None:
    elapsed = frame.at - previous.at
    if elapsed <= 0:
        return
    before_depth = {s.spool: s.depth for s in previous.spools}
    before_taken = {(d.kind, d.name): d.taken for d in previous.daemons}
    for spool in frame.spools:
        if spool.spool not in before_depth:
            continue  # new since the last look: no rate yet
        taken = 0.0
        for daemon in frame.serving(spool.spool):
            if daemon.kind == "receive":
                continue  # it writes to the spool: counted in by the change of depth
            taken += _increase(daemon.taken, before_taken.get((daemon.kind, daemon.name), daemon.taken))
        spool.rate_out = taken / elapsed
        spool.rate_in = max(0.0, (taken + spool.depth - before_depth[spool.spool]) / elapsed)


def _note_new_parking(frame: Frame, previous: Frame) -> None:
    """A running component that parked messages since the last look is failing: say so, and where."""
    before = {(d.kind, d.name): d.parked for d in previous.daemons}
    for daemon in frame.daemons:
        if daemon.kind != "watch" or daemon.state != "running":
            continue
        parked = _increase(daemon.parked, before.get((daemon.kind, daemon.name), daemon.parked))
        if parked:
            daemon.state = "failing"
            daemon.reason = f"parked {parked:.0f} since the last look: spoolq ls --parked {daemon.spool}"
