"""``spoolq demo --nodes 3``: the Enstore workflow on three nodes, through a private 3-node RabbitMQ cluster.

Each node is a host of its own (:mod:`spoolq.testbed.hosts`: a network
namespace where this process may make one, as root; 127.0.0.1 with ports of
its own otherwise) with its own spool root, ``spoolq.toml`` and ``spoolq
run``; three more hosts run the broker cluster
(:mod:`spoolq.testbed.cluster`), whose nodes every shipper has in its
failover list.  Which component runs where: :mod:`spoolq.enstore.demo.placement`.

The workflow and its checks are the one-node demo's
(:mod:`spoolq.enstore.demo.scenario`): this process plays the Disk Mover and
its users on node3, writing into node3's spool root.  Everything the demo
starts (``spoolq run`` on each node, the brokers, the namespaces) is stopped
and removed before it returns, also when it fails or is interrupted.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from spoolq.enstore.demo import placement, scenario, site
from spoolq.enstore.demo.traffic import NodeTraffic, Traffic
from spoolq.enstore.disk_mover import DiskMover
from spoolq.errors import SpoolqError
from spoolq.shippers.status import shipper_rows
from spoolq.spool import SpoolRoot
from spoolq.testbed.cluster import BrokerCluster, rabbitmq_installed
from spoolq.testbed.hosts import Hosts, HostsError, open_hosts

BROKERS = ("broker1", "broker2", "broker3")
ARCHIVE_TIMEOUT = 300.0  # every file crosses three nodes and the broker twice on a busy machine
ANSWER_TIMEOUT = 120.0
NODES_TIMEOUT = 180.0  # three spoolq run, each starting its components and shippers as processes


@dataclass
class NodesReport(scenario.DemoReport):
    """The one-node report, plus what each node shipped and where the hosts and brokers were."""

    hosts: str = ""  # "network namespaces" or "loopback"
    traffic: dict[str, NodeTraffic] = field(default_factory=dict)
    broker_nodes: list[str] = field(default_factory=list)


def run_demo_across_nodes(
    directory: str,
    files: int = 2000,
    workers: int = 2,
    say: Callable[[str], None] = print,
    durable: bool = False,
    loopback: bool | None = None,
) -> NodesReport:
    """Run the whole scenario across three nodes; ``loopback=None``: namespaces when this process can."""
    missing = rabbitmq_installed()
    if missing is not None:
        raise SpoolqError(missing)
    report = NodesReport()
    with contextlib.ExitStack() as cleanup:
        hosts = _open_hosts(loopback)
        cleanup.callback(hosts.close)
        paths = site.prepare(directory)
        report.hosts = "network namespaces" if hosts.isolated else "loopback"
        cluster = _start_cluster(paths, hosts, report, say, cleanup)
        roots = _write_node_configs(paths, cluster.stomp_hosts(), workers, durable)
        report.broker_nodes = list(BROKERS)
        traffic = Traffic(roots, dict(zip(cluster.stomp_hosts(), BROKERS, strict=True)))
        processes = _run_nodes(paths, hosts, cleanup)
        _wait_for_nodes(paths, roots, processes, report, say)
        mover, expected, cached = _run_workflow(paths, roots, files, report, traffic, say, durable)
    # Every node drained and stopped: what is on disk now is final.
    traffic.look()
    report.traffic = traffic.nodes
    scenario.verify(paths["archive"], mover, expected, cached, report)
    scenario.collect_counts(list(roots.values()), report)
    return report


def _open_hosts(loopback: bool | None) -> Hosts:
    try:
        return open_hosts([*placement.NODES, *BROKERS], loopback=loopback)
    except HostsError as exc:  # asked for namespaces (--hosts namespaces) where none can be made
        raise SpoolqError(f"demo: cannot make the hosts: {exc}; try --hosts loopback") from None


def _start_cluster(paths: dict, hosts: Hosts, report: NodesReport, say, cleanup) -> BrokerCluster:
    started = time.monotonic()
    cluster = BrokerCluster(paths["brokers"], [hosts[name] for name in BROKERS])
    cleanup.callback(cluster.close)
    try:
        with _elapsed(say, f"starting a 3-node RabbitMQ cluster ({report.hosts})"):
            cluster.start()
    except RuntimeError as exc:  # its message names the node's logs
        raise SpoolqError(f"demo: the broker cluster did not start: {exc}") from None
    report.seconds["broker cluster start"] = time.monotonic() - started
    say(f"cluster of {', '.join(BROKERS)} formed in {report.seconds['broker cluster start']:.1f} s\n")
    return cluster


@contextlib.contextmanager
def _elapsed(say, text: str):
    """A progress line ``TEXT: N s`` counting the seconds while the block runs (a cluster forms in minutes).

    The counting thread is the only one saying anything meanwhile; it is stopped and joined on the way out.
    """
    done = threading.Event()

    def count() -> None:
        started = time.monotonic()
        while not done.wait(1.0):
            say(f"\r{text}: {time.monotonic() - started:.0f} s")

    say(f"\r{text}: 0 s")
    counter = threading.Thread(target=count, name="demo-elapsed", daemon=True)
    counter.start()
    try:
        yield
    finally:
        done.set()
        counter.join()
        say("\n")


def _write_node_configs(paths: dict, stomp_hosts: list[str], workers: int, durable: bool) -> dict[str, str]:
    """Each node's folder, ``spoolq.toml`` and root; the root paths by node."""
    roots = {}
    for node in placement.NODES:
        folder = os.path.join(paths["nodes"], node)
        os.makedirs(os.path.join(folder, "root"))
        config = placement.node_config(
            node, stomp_hosts, workers, scenario.ENGINE, paths["archive"], paths["cache"], durable
        )
        with open(os.path.join(folder, "spoolq.toml"), "w", encoding="utf-8") as handle:
            handle.write(config)
        roots[node] = os.path.join(folder, "root")
    return roots


def _run_nodes(paths: dict, hosts: Hosts, cleanup) -> dict[str, subprocess.Popen]:
    """``spoolq run`` on each node's host; each is drained (SIGTERM) when the demo ends."""
    processes = {}
    for node in placement.NODES:
        folder = os.path.join(paths["nodes"], node)
        node_paths = {"config": os.path.join(folder, "spoolq.toml"), "log": os.path.join(folder, "run.log")}
        processes[node] = site.start_run(node_paths, popen=hosts[node].popen)
        cleanup.callback(site.stop_run, processes[node])
    return processes


def _wait_for_nodes(
    paths: dict, roots: dict[str, str], processes: dict[str, subprocess.Popen], report: NodesReport, say
) -> None:
    """Until every node's sender and receiver are connected, so that the timings measure the workflow.

    A ``spoolq run`` that exits meanwhile (a bad configuration, say) ends the demo at once, naming its log.
    """
    started = time.monotonic()
    shown = [""]

    def ready() -> bool:
        for node, process in processes.items():
            if process.poll() is not None:
                log = os.path.join(paths["nodes"], node, "run.log")
                raise SpoolqError(f"demo: spoolq run on {node} exited with {process.returncode} (see {log})")
        connected = [node for node, root in roots.items() if _shippers_connected(root)]
        line = f"\rnodes connected to the cluster: {len(connected)}/{len(roots)}"
        if line != shown[0]:
            say(line)
            shown[0] = line
        return len(connected) == len(roots)

    scenario.wait_until(ready, NODES_TIMEOUT, "the nodes to connect to the cluster")
    say("\n")
    report.seconds["nodes start"] = time.monotonic() - started


def _shippers_connected(root: str) -> bool:
    states = {row.get("name"): row.get("state") for row in shipper_rows(root)}
    return states.get("out") == "connected" and states.get("in") == "connected"


def _run_workflow(
    paths: dict, roots: dict[str, str], files: int, report: NodesReport, traffic: Traffic, say, durable: bool
) -> tuple[DiskMover, dict[str, bytes], set[str]]:
    """The one-node demo's steps, from node3, with answers addressed back to node3.

    Returns the Disk Mover, the files written, and the ids that must be in the cache.
    """
    here = placement.USER_NODE
    root = SpoolRoot(roots[here], durable=durable)
    mover = DiskMover(
        root, paths["cache"], paths["archive"], pe_spool=placement.at("pe", placement.ENGINE_NODE), node=here
    )
    started = time.monotonic()
    expected = scenario.write_files(mover, files, report, say)
    report.seconds["write"] = time.monotonic() - started
    scenario.wait_for_archive(paths["archive"], len(expected), say, ARCHIVE_TIMEOUT, more=traffic.line)
    report.seconds["archive"] = time.monotonic() - started
    md = placement.at("md", placement.DISPATCHER_NODE)
    purged = scenario.purge_half(root, mover, expected, report, md=md, node=here, timeout=ANSWER_TIMEOUT)
    staged = scenario.stage_back(root, mover, purged, report, node=here, timeout=ANSWER_TIMEOUT)
    report.seconds["total"] = time.monotonic() - started
    traffic.look()
    return mover, expected, (set(expected) - set(purged)) | set(staged)
