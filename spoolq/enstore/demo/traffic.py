"""What each node of the demo across nodes shipped, and which broker nodes carried it.

Read from the shippers' own status files (``ROOT/.shippers/NAME.json``, the
ones ``spoolq stats`` shows), so the figures are what the shippers counted:
``out`` the messages the broker confirmed, ``in`` the messages written and
acknowledged.  A shipper says which broker it is connected to only while it
is, so :meth:`Traffic.look` is called while the demo runs, and every broker
seen is kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from spoolq.shippers.status import shipper_rows


@dataclass
class NodeTraffic:
    sent: int = 0  # confirmed by the broker (shipper "out")
    received: int = 0  # written and acked (shipper "in")
    brokers: set[str] = field(default_factory=set)  # broker node names seen connected


class Traffic:
    """The shipping figures of every node; ``broker_names`` maps ``HOST:PORT`` to a broker node's name."""

    def __init__(self, roots: dict[str, str], broker_names: dict[str, str]):
        self.roots = roots  # node -> spool root path
        self.broker_names = broker_names
        self.nodes = {node: NodeTraffic() for node in roots}
        self._looked = 0.0

    def look(self, every: float = 0.0) -> None:
        """Read every node's shipper status, keeping the largest counts and every broker seen.

        Not again within ``every`` seconds of the last look (the progress line asks often).
        """
        if time.monotonic() - self._looked < every:
            return
        self._looked = time.monotonic()
        for node, root in self.roots.items():
            figures = self.nodes[node]
            for row in shipper_rows(root):
                done = int(row.get("done") or 0)
                if row.get("name") == "out":
                    figures.sent = max(figures.sent, done)
                elif row.get("name") == "in":
                    figures.received = max(figures.received, done)
                where = row.get("broker") or ""
                if where and row.get("state") == "connected":
                    figures.brokers.add(self.broker_names.get(where, where))

    def line(self) -> str:
        """``; shipped node1 12, node2 3, node3 2011`` for the progress line."""
        self.look(every=0.5)
        return "; shipped " + ", ".join(f"{node} {f.sent}" for node, f in self.nodes.items())
