"""Taking over the claims of a consumer that died, at once instead of after a lock timeout.

Called by a consuming daemon when it starts and at each purge
(:mod:`spoolq.spool.owners` says how dead owners are found and why a live one's
claims are never taken).  For each dead owner:

* the element it had in hand is the likely cause of its death: one death is
  counted (:mod:`spoolq.spool.poison`); after ``max_attempts`` deaths the element
  is parked, unread by any handler, with the reason "the process died while
  handling it", else it is unlocked to be handled again;
* the other elements it had claimed are unlocked.

Then, if a dead owner was found and no other live owner remains, every lock
older than this process's start is taken back (see :mod:`spoolq.spool.owners`).
"""

from __future__ import annotations

import logging
import time
from typing import NamedTuple

from spoolq.errors import SpoolqError
from spoolq.spool import element, layout, parking, poison
from spoolq.spool.owners import DeadOwner, Ownership
from spoolq.spool.queue import Spool
from spoolq.spool.root import SpoolRoot

log = logging.getLogger("spoolq.takeover")


class TakeoverReport(NamedTuple):
    dead: int  # dead owners taken over
    unlocked: int  # their claims unlocked, to be handled again
    parked: int  # elements parked after killing their process max_attempts times


def take_over(spool: Spool, root: SpoolRoot, ownership: Ownership, max_attempts: int) -> TakeoverReport:
    """Take over every dead owner of ``spool`` (see the module docstring)."""
    dead = live = unlocked = parked = 0
    for _path, owner in ownership.others():
        if owner is None:
            live += 1
            continue
        dead += 1
        owner_unlocked, owner_parked = _settle(spool, root, owner, max_attempts)
        unlocked += owner_unlocked
        parked += owner_parked
    if dead:
        poison.forget_gone(root.path, spool.path, spool.name)
        if not live:
            # Only this process is alive among the owners: a lock older than its start is a
            # dead process's.  An age of 0 would disable the purge: keep it above 0.
            age = max(1e-6, time.time() - ownership.started)
            unlocked += spool.purge(max_temp_age=0, max_lock_age=age).unlocked
        log.warning(
            "%s: took over from %d dead consumer(s): %d claim(s) unlocked, %d parked",
            spool.path, dead, unlocked, parked,
        )  # fmt: skip
    return TakeoverReport(dead, unlocked, parked)


def _settle(spool: Spool, root: SpoolRoot, owner: DeadOwner, max_attempts: int) -> tuple[int, int]:
    unlocked = parked = 0
    for name in owner.in_hand:
        if not layout.is_element_path(name) or not spool.exists(name):
            continue  # handled and removed before the death, or not a name at all
        deaths = poison.count_death(root.path, spool.name, name)
        if deaths >= max_attempts:
            if _park(spool, root, name, deaths):
                parked += 1
            continue
        log.error(
            "%s/%s: %s (%d of %d death(s) before it is parked); trying it again",
            spool.path, name, poison.REASON, deaths, max_attempts,
        )  # fmt: skip
        unlocked += spool.unlock(name)
    for name in owner.claimed:
        if layout.is_element_path(name) and name not in owner.in_hand:
            unlocked += spool.unlock(name)
    return unlocked, parked


def _park(spool: Spool, root: SpoolRoot, name: str, deaths: int) -> bool:
    path = spool.path_of(name)
    element.lock(path)  # normally the dead owner's lock is still there, and now ours
    try:
        data = spool.read(name)
    except SpoolqError:
        return False  # gone meanwhile
    reason = f"{poison.REASON}, {deaths} time(s)"
    parked = parking.park(root, spool.name, data, reason, element=name, attempts=deaths)
    element.remove_locked(path)
    poison.forget(root.path, spool.name, name)
    log.error("%s/%s: parked as %s: %s", spool.path, name, parked, reason)
    return True
