"""In which order a link tries the hosts of a broker's failover list.

``order = "random"`` (the default) starts at a random host and goes round the
list from there: many nodes sharing one list spread over the brokers.
``order = "in-order"`` starts at the first host every time: the others are
used only while the ones before them fail (a preferred broker, the rest
standby).

Either way the host whose connection was just lost goes last: a dead broker
node is then not the first one tried again (a host gone without a trace costs
a whole ``connect_timeout``), and the shipper reaches a survivor at once.  On
the reconnect after that, in-order starts from the first host again.
"""

from __future__ import annotations

import random

ORDERS = ("random", "in-order")


def hosts_to_try(
    hosts: tuple[tuple[str, int], ...], order: str, lost: str | None = None
) -> list[tuple[str, int]]:
    """``hosts`` in the order to try them; ``lost`` (``host:port``) moved to the end."""
    ordered = list(hosts)
    if order == "random":
        start = random.randrange(len(ordered))
        ordered = ordered[start:] + ordered[:start]
    if lost is not None and len(ordered) > 1:
        ordered.sort(key=lambda hp: f"{hp[0]}:{hp[1]}" == lost)  # stable: the rest keep their order
    return ordered
