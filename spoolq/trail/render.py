"""The trail as ``spoolq show`` prints it: one hop a line, with the time each took.

::

    trail:
      2026-12-07 04:41:12.123456  +0.000000 s              put       node-a  spool=requests
      2026-12-07 04:41:12.130001  +0.006545 s  +0.006545   shipped   node-a  shipper=out

The first column is the hop's time (UTC), the second the time since the
first hop, the third the time since the hop before: the slow hop of a round
trip is the line with the large third column.
"""

from __future__ import annotations

from datetime import UTC, datetime

from spoolq.trail.entries import Entry, Marker, parse


def render(value: str) -> list[str]:
    """The lines that show the ``trail`` value ``value`` (without the ``trail:`` title)."""
    lines = []
    first = previous = None
    for item in parse(value):
        if isinstance(item, Marker):
            lines.append(f"  ... {item.text()[1:-1]} ...")
            previous = None  # the time since the hop before would span the hops left out
            continue
        if isinstance(item, str):
            lines.append(f"  ? {item}")
            continue
        first = item.when if first is None else first
        since = f"+{item.when - previous:.6f}" if previous is not None else ""
        stamp = datetime.fromtimestamp(item.when, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        lines.append(
            f"  {stamp}  +{item.when - first:.6f} s  {since:>11}   {item.event:<9} {item.node}  {item.where}"
        )
        previous = item.when
    return lines


__all__ = ["Entry", "render"]
