"""``spoolq demo --nodes 3``: the Enstore workflow on three nodes and a RabbitMQ cluster, run by the CLI."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import cli_env


def rows(out: str) -> dict[str, str]:
    """The demo's closing table: ``name  value`` lines."""
    found = {}
    for line in out.splitlines():
        name, gap, value = line.partition("  ")
        if gap and value.strip():
            found[name.strip()] = value.strip()
    return found


def namespaces_of(pid: int) -> list[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    return [line.split()[0] for line in listed.splitlines() if line.startswith(f"spoolq-{pid}-")]


@pytest.mark.timeout(600)
def test_the_demo_across_three_nodes_loses_nothing_and_ships_through_the_cluster(tmp_path):
    command = [sys.executable, "-m", "spoolq", "demo", "--nodes", "3", "--files", "60", "--workers", "1"]
    demo = subprocess.Popen(
        [*command, "--root", str(tmp_path / "demo")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(),
    )
    try:
        out, err = demo.communicate(timeout=540)
    finally:
        if demo.poll() is None:
            demo.kill()  # pragma: no cover (the timeout above has failed the test)
            demo.wait()
    out, err = out.decode(), err.decode()
    assert demo.returncode == 0, f"{out}\n{err}"
    table = rows(out)
    assert (table["files"], table["lost"], table["corrupted"]) == ("60", "0", "0")
    assert table["broker nodes"] == "broker1, broker2, broker3"
    for node in ("node1", "node2", "node3"):
        sent, received = (int(n) for n in table[f"{node} shipped / received"].split(" / "))
        assert sent > 0 and received > 0, node
        assert re.fullmatch(r"broker\d(, broker\d)*", table[f"{node} broker nodes used"]), table
    # node3 (the Disk Mover) sent a CACHE_WRITTEN for every file to node1 (the Policy Engine)
    assert int(table["node3 shipped / received"].split(" / ")[0]) >= 60
    assert int(table["node1 shipped / received"].split(" / ")[1]) >= 60
    assert "archived 60/60 files" in out
    if table["hosts"] == "network namespaces":
        assert namespaces_of(demo.pid) == []


def test_without_rabbitmq_the_demo_across_nodes_says_how_to_install_it_and_starts_nothing(
    tmp_path, monkeypatch
):
    from spoolq.enstore.demo.across_nodes import run_demo_across_nodes
    from spoolq.errors import SpoolqError
    from spoolq.testbed import cluster

    monkeypatch.setattr(cluster, "RABBIT_BIN", tmp_path / "no-rabbitmq" / "bin")
    with pytest.raises(SpoolqError, match=r"apt-get install rabbitmq-server$"):
        run_demo_across_nodes(str(tmp_path / "demo"), files=10)
    assert not (tmp_path / "demo").exists()


def test_a_number_of_nodes_the_demo_does_not_lay_out_is_refused(cli, tmp_path):
    result = cli("demo", "--nodes", "2", "--root", str(tmp_path / "demo"))
    assert result.returncode == 2
    assert "'2' is not one of '1', '3'" in result.stderr.decode()
    assert not (tmp_path / "demo").exists()


def test_hosts_given_for_the_one_node_demo_are_refused_not_ignored(cli, tmp_path):
    result = cli("demo", "--hosts", "namespaces", "--root", str(tmp_path / "demo"))
    assert result.returncode == 2
    assert "--hosts chooses the hosts of --nodes 3" in result.stderr.decode()
    assert not (tmp_path / "demo").exists()


def processes_under(directory) -> list[str]:
    """Command lines of the processes that name ``directory`` (the demo's brokers and nodes)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                line = handle.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(directory) in line:
            found.append(line)
    return found


@pytest.mark.timeout(400)
def test_an_interrupted_demo_across_nodes_stops_and_removes_everything_it_started(tmp_path):
    demo = subprocess.Popen(
        [sys.executable, "-m", "spoolq", "demo", "--nodes", "3", "--root", str(tmp_path / "demo")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=cli_env(),
    )
    try:
        # Interrupted once everything runs: the cluster, and spoolq run on every node.
        last_run_log = tmp_path / "demo" / "nodes" / "node3" / "run.log"
        deadline = time.monotonic() + 240
        while not last_run_log.exists() and demo.poll() is None:
            assert time.monotonic() < deadline, "the nodes did not start within 240 s"
            time.sleep(0.5)
        assert len(processes_under(tmp_path / "demo" / "nodes")) >= 3
        demo.send_signal(signal.SIGINT)
        _, err = demo.communicate(timeout=180)
    finally:
        if demo.poll() is None:
            demo.kill()  # pragma: no cover (the timeout above has failed the test)
            demo.wait()
    assert demo.returncode == 130, err.decode()
    assert "demo interrupted" in err.decode()
    assert namespaces_of(demo.pid) == []
    assert processes_under(tmp_path / "demo") == []


NOT_ROOT = """
import os, sys
from spoolq.cli.group import main
import spoolq.cli.demo, spoolq.enstore.demo.across_nodes
if os.geteuid() == 0:
    os.seteuid(65534)  # nobody: no network namespaces for this process
main(sys.argv[1:])
"""


def test_hosts_as_namespaces_asked_for_without_root_is_one_clear_line_and_nothing_made(tmp_path):
    demo = subprocess.run(
        [sys.executable, "-c", NOT_ROOT, "demo", "--nodes", "3", "--hosts", "namespaces"]
        + ["--root", str(tmp_path / "demo")],
        capture_output=True,
        env=cli_env(),
        timeout=120,
    )
    assert demo.returncode == 1
    assert demo.stderr.decode().strip().splitlines() == [
        "spoolq: error: demo: cannot make the hosts: network namespaces need root (euid is not 0); "
        "try --hosts loopback"
    ]
    assert not (tmp_path / "demo").exists()
