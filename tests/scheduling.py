"""How often a process's threads were scheduled: an idle daemon's are not at all."""

from __future__ import annotations

from pathlib import Path


def context_switches(pid: int) -> int:
    """Times any thread of ``pid`` went to sleep or was preempted so far."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                total += int(line.split()[1])
    return total
