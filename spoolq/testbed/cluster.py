"""Three RabbitMQ nodes, one per host, in one cluster with STOMP: the replicated broker of a multi-node site.

Each node is a :class:`~spoolq.testbed.broker.Broker` (the same code as the
one-node test broker) run on its own :class:`~spoolq.testbed.hosts.Host`, with
its own node name, data, logs and configuration, and all share one Erlang
cookie.  ``classic_config`` peer discovery names the three nodes, so they form
the cluster on first boot without ``join_cluster``.  A quorum queue on it
survives the death of one node; with two dead its majority is gone and nothing
is confirmed until one comes back.

On namespace hosts every node is ``rabbit@HOST`` with its own epmd; on
loopback hosts the nodes are ``spoolq-PID-HOST@localhost`` sharing one epmd,
told apart by their ports.  :meth:`BrokerCluster.kill` is ``kill -9``: the node
stays dead until :meth:`BrokerCluster.start_node` brings it back.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from spoolq.testbed.broker import RABBIT_BIN, START_TIMEOUT, Broker, free_port
from spoolq.testbed.hosts import Host, Hosts
from spoolq.testbed.pki import TestCA

FORMATION_TIMEOUT = 180.0  # three Erlang VMs booting on two busy cores
STOP_TIMEOUT = 60.0


class ClusterNode(Broker):
    """One node of a :class:`BrokerCluster`: a Broker that names its peers and admits other hosts."""

    def __init__(self, directory: Path, peers: Sequence[str], cluster_name: str, **keywords):
        self.peers = list(peers)
        self.cluster_name = cluster_name
        super().__init__(directory, **keywords)

    def configuration_lines(self) -> list[str]:
        lines = [line for line in super().configuration_lines() if not line.startswith("loopback_users")]
        return [
            *lines,
            "loopback_users = none",  # clients come from the other hosts' addresses
            f"cluster_name = {self.cluster_name}",
            "cluster_formation.peer_discovery_backend = classic_config",
            *(f"cluster_formation.classic_config.nodes.{i} = {peer}" for i, peer in enumerate(self.peers, 1)),
        ]

    def write_cookie(self, cookie: str) -> None:
        """The Erlang cookie every node of the cluster shares (``$HOME/.erlang.cookie``, mode 0400)."""
        path = self.directory / ".erlang.cookie"
        if path.exists():
            path.chmod(0o600)
        path.write_text(cookie)
        path.chmod(0o400)

    def kill(self) -> None:
        """``kill -9`` the node's whole process group (the VM and its children); its pid file stays, stale."""
        node, self._node = self._node, None
        if node is None:
            return
        try:
            os.killpg(node.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        node.wait()

    def stop_waiting(self) -> None:
        """``rabbitmqctl stop PIDFILE``, which returns once the VM has exited; a group kill if it hangs."""
        node = self._node
        if node is None:
            return
        pid_file = self.directory / "rabbit.pid"
        if node.poll() is None and pid_file.exists():
            try:
                self.ctl("stop", str(pid_file), timeout=STOP_TIMEOUT)
            except (RuntimeError, OSError, subprocess.TimeoutExpired):  # the group kill below ends it
                pass
        self.stop()  # reaps the wrapper, and sweeps its group if anything is left

    def clear_stale_pid_file(self) -> None:
        (self.directory / "rabbit.pid").unlink(missing_ok=True)


class BrokerCluster:
    """Three (or more) RabbitMQ nodes on ``hosts``, one per host, clustered, STOMP on each.

    ``nodes[i]`` runs on ``hosts[i]``; :meth:`stomp_hosts` is the failover list
    a shipper's ``[brokers.NAME] hosts`` takes.
    """

    def __init__(self, directory: Path, hosts: Hosts | Sequence[Host]):
        self.directory = Path(directory)
        self.hosts = list(hosts)
        self.ca = TestCA(self.directory / "pki")
        self.cluster_name = f"spoolq-{os.getpid()}"
        isolated = all(h.namespace is not None for h in self.hosts)
        if isolated:
            names = [f"rabbit@{h.hostname}" for h in self.hosts]
            epmd_port = 4369  # each host has its own, at the standard port
        else:
            names = [f"spoolq-{os.getpid()}-{h.name}@localhost" for h in self.hosts]
            epmd_port = free_port()  # one epmd for all: Erlang asks every host's epmd on the same port
        self.nodes = [
            ClusterNode(
                self.directory / host.name,
                names,
                self.cluster_name,
                runs_on=host,
                nodename=name,
                ca=self.ca,
                epmd_port=epmd_port,
                starts_epmd=isolated or i == 0,
            )
            for i, (host, name) in enumerate(zip(self.hosts, names, strict=True))
        ]
        cookie = secrets.token_hex(20)
        for node in self.nodes:
            node.write_cookie(cookie)

    # -- the whole cluster ----------------------------------------------------------

    def start(self, timeout: float = FORMATION_TIMEOUT) -> None:
        """Start the first node, then the others together; return when all run, in one cluster.

        Started all at once, fresh nodes each wait for a peer that has the
        cluster's tables, and none has them yet; the first node alone makes
        them, and the others then join it.
        """
        for node in self.nodes:
            node.start_epmd()
        first, *others = self.nodes
        first.launch()
        first.wait_started(timeout)
        for node in others:
            node.launch()
        for node in others:
            node.wait_started(timeout)
        self.wait_for_members(len(self.nodes), timeout)

    def close(self) -> None:
        """Stop every node (each waits for its VM to exit), then every epmd: nothing of ours keeps running."""
        for node in self.nodes:
            node.stop_waiting()
        for node in self.nodes:
            node.close()

    def __enter__(self) -> BrokerCluster:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- one node -------------------------------------------------------------------

    def node(self, which: int | str | ClusterNode) -> ClusterNode:
        """A node by position, host name, Erlang node name, or itself."""
        if isinstance(which, ClusterNode):
            return which
        if isinstance(which, int):
            return self.nodes[which]
        for node in self.nodes:
            if which in (node.runs_on.name, node.nodename):
                return node
        raise KeyError(which)

    def kill(self, which) -> ClusterNode:
        """``kill -9`` one node; it is not restarted unless :meth:`start_node` is called."""
        node = self.node(which)
        node.kill()
        return node

    def start_node(self, which, timeout: float = START_TIMEOUT * 2) -> ClusterNode:
        """Start a stopped or killed node again (its stale pid file removed); return once it runs STOMP."""
        node = self.node(which)
        node.clear_stale_pid_file()
        node.launch()
        node.wait_started(timeout)
        return node

    def running(self) -> list[ClusterNode]:
        return [node for node in self.nodes if node.running]

    def stomp_hosts(self) -> list[str]:
        """``ADDRESS:PORT`` of every node's STOMP listener, in node order: a failover list."""
        return [f"{node.host}:{node.stomp_port}" for node in self.nodes]

    # -- what the cluster says ------------------------------------------------------

    def members(self, asking=None) -> list[str]:
        """The running members of the cluster, as ``asking`` (a running node) sees them."""
        node = self.node(asking) if asking is not None else self.running()[0]
        status = json.loads(node.ctl("cluster_status", "--formatter", "json"))
        return sorted(status.get("running_nodes", []))

    def wait_for_members(self, count: int, timeout: float = FORMATION_TIMEOUT) -> None:
        """Return once a running node sees ``count`` running members; bounded by ``timeout``."""
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        for _ in range(int(timeout) + 1):
            try:
                seen = self.members()
            except (RuntimeError, IndexError, ValueError):
                seen = []
            if len(seen) >= count:
                return
            if time.monotonic() > deadline:
                break
            time.sleep(1)
        raise RuntimeError(
            f"the cluster has {len(seen)} running members, not {count}, after {timeout:.0f} s: {seen}"
        )

    def queue_depth(self, queue: str) -> int:
        """Messages in ``queue`` (ready and unacknowledged), asked of a running node."""
        return self.running()[0].queue_depth(queue)

    def queue_leader(self, queue: str) -> str | None:
        """The node that leads quorum queue ``queue``, or ``None`` when it is unknown."""
        listed = self.running()[0].ctl("list_queues", "-q", "--no-table-headers", "name", "leader")
        for line in listed.splitlines():
            parts = line.split()
            if parts and parts[0] == queue and len(parts) > 1:
                return parts[1]
        return None


def rabbitmq_installed() -> str | None:
    """Why a cluster cannot start here (for a skip or a one-line hint), or ``None``."""
    if (RABBIT_BIN / "rabbitmq-server").exists():
        return None
    return "rabbitmq-server is not installed; install it with: apt-get install rabbitmq-server"
