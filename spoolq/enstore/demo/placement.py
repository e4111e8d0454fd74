"""Which Enstore component runs on which node in the demo across nodes, and each node's ``spoolq.toml``.

* ``node1``: the Policy Engine (``pe``, ``pe_reply``);
* ``node2``: the Migration Dispatcher (``md``, ``md_reply``);
* ``node3``: the Migration Workers (``mw``, ``mw_wN``) and the Disk Mover, with
  the demo's user, whose answers come to ``demo_reply`` and ``demo_reads``.

The cache is one folder, shared by the Disk Mover and the workers as
Enstore's is; the archive too.  Every address the components give each other
names its node (``md@node2``, ``pe_reply@node1``), so every message between
two of them is written to ``outgoing``, shipped through the broker cluster
and written by the receiving node's ``spoolq receive`` into the addressed
spool: nothing goes from one node to another through the filesystem.

Each node ships through the same failover list (every broker node) and one
destination per node, ``/queue/spoolq-demo.NODE``, a quorum queue, so that a
message waiting for its node survives the death of one broker node.
"""

from __future__ import annotations

import json

from spoolq.enstore.demo.site import TICK_SECONDS, component_table

ENGINE_NODE, DISPATCHER_NODE, WORKER_NODE = NODES = ("node1", "node2", "node3")
#: Where the demo's own process writes and reads: the Disk Mover's node.
USER_NODE = WORKER_NODE
DISPATCHER = {"part_files": 500, "silence": 10.0}  # a part crosses two nodes: give it time


def at(spool: str, node: str) -> str:
    return f"{spool}@{node}"


def components_of(node: str, workers: int, engine: dict, archive: str, cache: str) -> list[str]:
    """The ``[components.*]`` tables of ``node``."""
    if node == ENGINE_NODE:
        options = {**engine, "md_spool": at("md", DISPATCHER_NODE), "reply_spool": at("pe_reply", node)}
        return [
            component_table("pe", "pe", "policy_engine", options, tick=TICK_SECONDS),
            component_table("pe_reply", "pe_reply", "policy_engine", options),
        ]
    if node == DISPATCHER_NODE:
        options = {**DISPATCHER, "worker_spool": at("mw", WORKER_NODE), "reply_spool": at("md_reply", node)}
        return [
            component_table("md", "md", "migration_dispatcher", options, tick=TICK_SECONDS),
            component_table("md_reply", "md_reply", "migration_dispatcher", options),
        ]
    tables = []
    for n in range(1, workers + 1):
        options = {"worker_id": f"w{n}", "archive": archive, "cache": cache}
        options["pe_spool"] = at("pe", ENGINE_NODE)
        tables.append(component_table(f"mw{n}", "mw", "migration_worker", options))
        tables.append(component_table(f"mw{n}_status", f"mw_w{n}", "migration_worker", options))
    return tables


def shipping_tables(stomp_hosts: list[str]) -> str:
    """The broker (every cluster node in the failover list), a quorum destination, a sender, a receiver."""
    return f"""
[brokers.cluster]
hosts = {json.dumps(stomp_hosts)}
username = "guest"
passcode = "guest"
vhost = "/"
connect_timeout = 5

[destinations.nodes]
broker = "cluster"
address = "/queue/spoolq-demo.{{node}}"
queue_type = "quorum"

[shippers.out]
kind = "ship"
destination = "nodes"
spool = "outgoing"
receipt_timeout = 10
backoff_max = 1

[shippers.in]
kind = "receive"
destination = "nodes"
spool = "incoming"
backoff_max = 1
"""


def node_config(
    node: str, stomp_hosts: list[str], workers: int, engine: dict, archive: str, cache: str, durable: bool
) -> str:
    """The whole ``spoolq.toml`` of ``node``: its root beside the file, its components, its shippers."""
    head = f'root = "root"\nnode = "{node}"\ndurable = {json.dumps(durable)}\n'
    tables = components_of(node, workers, engine, archive, cache)
    return "\n".join([head, *tables, shipping_tables(stomp_hosts)])
