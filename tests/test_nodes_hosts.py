"""Hosts as network namespaces: own addresses, reachable by name, nothing left behind."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from spoolq.testbed import hosts as hosts_module
from spoolq.testbed.hosts import namespaces_of_this_process, namespaces_unavailable, open_hosts

UNAVAILABLE = namespaces_unavailable()
needs_namespaces = pytest.mark.skipif(UNAVAILABLE is not None, reason=f"no network namespaces: {UNAVAILABLE}")

LISTEN = """
import socket, sys
server = socket.create_server(("0.0.0.0", 7001))
server.settimeout(30)
print("listening", flush=True)
conn, peer = server.accept()
conn.sendall(sys.argv[1].encode())
conn.close()
"""

CONNECT = """
import socket, sys
with socket.create_connection((sys.argv[1], 7001), timeout=10) as conn:
    print(conn.recv(100).decode(), conn.getsockname()[0])
"""


@pytest.fixture(scope="module")
def three():
    with open_hosts(["alpha", "beta", "gamma"], loopback=False) as made:
        yield made


def ask(host, name: str, server) -> str:
    """Connect from ``host`` to port 7001 of ``name``; what the server there said, and our own address."""
    assert server.stdout.readline().strip() == "listening"
    done = host.run([sys.executable, "-c", CONNECT, name], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    server.wait(30)
    return done.stdout.strip()


@needs_namespaces
def test_each_host_has_its_own_address_and_namespace(three):
    addresses = {h.address for h in three}
    assert len(addresses) == 3 and all(a.startswith("10.213.") for a in addresses)
    assert set(namespaces_of_this_process()) >= {h.namespace for h in three} | {three.bridge_namespace}
    shown = three["beta"].run(["ip", "-4", "-o", "addr", "show", "eth0"], capture_output=True, text=True)
    assert three["beta"].address in shown.stdout


@needs_namespaces
def test_hosts_reach_each_other_by_name(three):
    server = three["gamma"].popen(
        [sys.executable, "-c", LISTEN, "hello-from-gamma"], stdout=subprocess.PIPE, text=True
    )
    try:
        said, mine = ask(three["alpha"], "gamma", server).split()
    finally:
        server.kill()
        server.wait()
    assert said == "hello-from-gamma"
    assert mine == three["alpha"].address  # the connection came from alpha's own address, not loopback


@needs_namespaces
def test_the_machine_itself_does_not_see_the_hosts(three):
    root_addresses = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True).stdout
    assert not any(h.address in root_addresses for h in three)
    bridge_links = subprocess.run(
        ["ip", "-n", three.bridge_namespace, "-o", "link"], capture_output=True, text=True
    )
    assert "br0" in bridge_links.stdout  # the bridge is in a namespace of its own


@needs_namespaces
def test_nothing_is_left_after_close_even_a_process_still_running():
    made = open_hosts(2, loopback=False)
    sleeper = made["node1"].popen(["sleep", "300"])
    names = [h.namespace for h in made] + [made.bridge_namespace]
    made.close()
    assert sleeper.wait(10) == -9
    left = set(namespaces_of_this_process())
    assert not left & set(names)
    assert not any((hosts_module.NETNS_ETC / n).exists() for n in names)


@needs_namespaces
def test_namespaces_of_a_dead_run_are_swept_by_the_next():
    child = subprocess.Popen(["true"])
    child.wait()
    stale = f"{hosts_module.PREFIX}{child.pid}-0-node1"
    subprocess.run(["ip", "netns", "add", stale], check=True)
    (hosts_module.NETNS_ETC / stale).mkdir(parents=True, exist_ok=True)
    try:
        with open_hosts(1, loopback=False):
            pass
        listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        assert stale not in listed
        assert not (hosts_module.NETNS_ETC / stale).exists()
    finally:
        subprocess.run(["ip", "netns", "delete", stale], capture_output=True)


def test_loopback_hosts_have_the_same_interface(tmp_path: Path):
    with open_hosts(["one", "two"], loopback=True) as made:
        assert not made.isolated
        assert [h.address for h in made] == ["127.0.0.1", "127.0.0.1"]
        done = made["two"].run(
            ["sh", "-c", "echo $$ > pid; echo ran"], cwd=tmp_path, capture_output=True, text=True
        )
        assert done.stdout == "ran\n"
        assert made["two"].hostname == "localhost"


def test_bad_host_names_get_a_clear_error():
    with pytest.raises(ValueError, match="host names must be distinct"):
        open_hosts(["a", "a"], loopback=True)
    with pytest.raises(ValueError, match="lowercase"):
        open_hosts(["Has Space"], loopback=True)


def test_without_root_the_reason_says_so(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert "root" in namespaces_unavailable()
