"""Several hosts on one machine: network namespaces joined by a bridge, or loopback ports when that cannot be.

spoolq carries messages between nodes, so its cross-node guarantees must be
checked between hosts that have addresses of their own.  :func:`open_hosts`
makes N of them:

* as **network namespaces** (root, ``ip`` present): each host a namespace
  with loopback up and one veth leg into a bridge that lives in a namespace
  of its own, so the machine's own network is never touched.  Each host has
  an address from a private ``10.213.X.0/24`` (X from our pid) used only
  inside these namespaces, and ``/etc/netns/NS/hosts`` names every host, so
  ``node2`` resolves to its address from any of them.
* on **loopback** otherwise: every host is 127.0.0.1 in the current namespace
  and is told apart by the ports its services use; same interface.

Everything a set creates is named ``spoolq-PID-N-...`` and removed by
:meth:`Hosts.close` (a fixture finalizer), by ``atexit``, or by the sweep each
new set makes of sets whose process has died.
"""

from __future__ import annotations

import atexit
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from spoolq.spool.processes import alive

PREFIX = "spoolq-"
NETNS_ETC = Path("/etc/netns")
OURS = re.compile(rf"^{re.escape(PREFIX)}(\d+)-")
BRIDGE = "br0"
IP_TIMEOUT = 30.0

_sets = itertools.count()
_open: set[Hosts] = set()
_open_lock = threading.Lock()


class HostsError(RuntimeError):
    """A namespace, link or address could not be made; the message says which command failed."""


def namespaces_unavailable() -> str | None:
    """Why hosts cannot be namespaces here (for a test to skip with), or ``None`` when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root (euid is not 0)"
    if shutil.which("ip") is None:
        return "network namespaces need the 'ip' command (iproute2), which is not installed"
    probe = f"{PREFIX}{os.getpid()}-probe"
    made = _ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"'ip netns add' fails here: {made.stderr.strip()}"
    _ip("netns", "delete", probe, check=False)
    return None


def open_hosts(names: Sequence[str] | int, *, loopback: bool | None = None) -> Hosts:
    """N hosts (``names``, or ``node1``..``nodeN`` for a count): namespaces where possible.

    ``loopback=None`` picks namespaces when :func:`namespaces_unavailable` has
    no objection, ``True`` forces loopback, ``False`` forces namespaces (and
    raises :class:`HostsError` with the reason when they cannot be made).
    """
    if isinstance(names, int):
        names = [f"node{i}" for i in range(1, names + 1)]
    names = list(names)
    if len(set(names)) != len(names) or not all(re.fullmatch(r"[a-z][a-z0-9-]{0,14}", n) for n in names):
        raise ValueError(
            f"host names must be distinct, lowercase, start with a letter, at most 15 long: {names}"
        )
    if loopback is None:
        loopback = namespaces_unavailable() is not None
    elif not loopback and (reason := namespaces_unavailable()):
        raise HostsError(reason)
    return LoopbackHosts(names) if loopback else NamespaceHosts(names)


class Host:
    """One host: where a command runs, the address others reach it at, and the name that resolves to it."""

    def __init__(self, name: str, address: str, hostname: str, namespace: str | None):
        self.name = name  # what the caller called it: node1
        self.address = address  # what others connect to
        self.hostname = hostname  # resolves to ``address`` on every host of the set (Erlang node names)
        self.namespace = namespace  # None on loopback

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` as run on this host."""
        argv = [str(a) for a in argv]
        return argv if self.namespace is None else ["ip", "netns", "exec", self.namespace, *argv]

    def run(self, argv: Sequence[str], **keywords) -> subprocess.CompletedProcess:
        """:func:`subprocess.run` on this host."""
        return subprocess.run(self.command(argv), **keywords)

    def popen(self, argv: Sequence[str], **keywords) -> subprocess.Popen:
        """:class:`subprocess.Popen` on this host; ``ip netns exec`` execs, so the pid is the command's."""
        return subprocess.Popen(self.command(argv), **keywords)

    def wait_for_ports(self, ports: Sequence[int], timeout: float, what: str, failed=lambda: False) -> None:
        """Return once every port of ``ports`` accepts connections at :attr:`address`, seen from this host.

        Inside a namespace one probe process does the waiting (our own network
        cannot reach the host); ``failed()`` is checked meanwhile, so that a
        service that died is reported at once, not after ``timeout``.
        """
        if self.namespace is None:
            _wait_until(lambda: all(_port_open(self.address, p) for p in ports), timeout, what, failed)
            return
        probe = self.popen(
            [sys.executable, "-c", _PROBE, self.address, str(timeout), *map(str, ports)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_until(lambda: probe.poll() is not None, timeout + 10, what, failed)
        finally:
            if probe.poll() is None:
                probe.kill()
            probe.wait()
        if probe.returncode != 0:
            raise HostsError(f"{what} did not start within {timeout:.0f} s")

    def pids(self) -> list[int]:
        """Every process in this host's namespace (none on loopback: we cannot tell them apart)."""
        if self.namespace is None:
            return []
        listed = _ip("netns", "pids", self.namespace, check=False)
        return [int(p) for p in listed.stdout.split() if p.isdigit()]

    def __repr__(self) -> str:
        where = self.namespace or "loopback"
        return f"Host({self.name!r}, {self.address}, {where})"


LOOPBACK = Host("localhost", "127.0.0.1", "localhost", None)  # this machine, as a host of its own


class Hosts:
    """A set of hosts, indexable by position or name; :meth:`close` removes all they made."""

    isolated = False  # True when each host has its own network namespace and address

    def __init__(self, hosts: list[Host]):
        self.hosts = hosts

    def __iter__(self) -> Iterator[Host]:
        return iter(self.hosts)

    def __len__(self) -> int:
        return len(self.hosts)

    def __getitem__(self, key: int | str) -> Host:
        if isinstance(key, str):
            for host in self.hosts:
                if host.name == key:
                    return host
            raise KeyError(key)
        return self.hosts[key]

    def close(self) -> None:
        """Nothing to remove for loopback hosts."""

    def __enter__(self) -> Hosts:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LoopbackHosts(Hosts):
    """Every host is 127.0.0.1 here; services on them must use distinct ports."""

    def __init__(self, names: list[str]):
        super().__init__([Host(name, "127.0.0.1", "localhost", None) for name in names])


class NamespaceHosts(Hosts):
    """Each host a network namespace with its own address, all on a bridge in a namespace of its own."""

    isolated = True

    def __init__(self, names: list[str]):
        sweep_stale()
        number = next(_sets)
        self.prefix = f"{PREFIX}{os.getpid()}-{number}-"
        self.bridge_namespace = self.prefix + "bridge"
        self.subnet = f"10.213.{(os.getpid() + number) % 250 + 1}"
        hosts = [
            Host(name, f"{self.subnet}.{i}", name, self.prefix + name)
            for i, name in enumerate(names, start=2)
        ]
        super().__init__(hosts)
        self._closed = False
        with _open_lock:
            _open.add(self)
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _build(self) -> None:
        br = self.bridge_namespace
        _ip("netns", "add", br)
        _ip("-n", br, "link", "add", BRIDGE, "type", "bridge")
        _ip("-n", br, "link", "set", BRIDGE, "up")
        names = "".join(f"{h.address} {h.name}\n" for h in self.hosts)
        for i, host in enumerate(self.hosts):
            ns, leg = host.namespace, f"veth{i}"
            _ip("netns", "add", ns)
            etc = NETNS_ETC / ns
            etc.mkdir(parents=True, exist_ok=True)
            (etc / "hosts").write_text(f"127.0.0.1 localhost\n{names}")
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", br, "link", "add", leg, "type", "veth", "peer", "name", "eth0", "netns", ns)
            _ip("-n", br, "link", "set", leg, "master", BRIDGE, "up")
            _ip("-n", ns, "addr", "add", f"{host.address}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")

    def close(self) -> None:
        """Kill whatever still runs in our namespaces, then delete them and their ``/etc/netns`` files."""
        if self._closed:
            return
        self._closed = True
        remove_namespaces([h.namespace for h in self.hosts] + [self.bridge_namespace])
        with _open_lock:
            _open.discard(self)


def remove_namespaces(namespaces: Sequence[str]) -> None:
    """Kill every process inside each namespace (SIGKILL: they are ours), delete it and its files."""
    for ns in namespaces:
        _kill_inside(ns)
        _ip("netns", "delete", ns, check=False)
        shutil.rmtree(NETNS_ETC / ns, ignore_errors=True)


def sweep_stale() -> list[str]:
    """Remove the namespaces of spoolq host sets whose process is gone (a run killed before teardown)."""
    listed = _ip("netns", "list", check=False)
    names = {line.split()[0] for line in listed.stdout.splitlines() if line.strip()}
    names |= {p.name for p in NETNS_ETC.glob(PREFIX + "*")} if NETNS_ETC.is_dir() else set()
    stale = sorted(n for n in names if (m := OURS.match(n)) and not alive(int(m.group(1))))
    remove_namespaces(stale)
    return stale


def namespaces_of_this_process() -> list[str]:
    """Our namespaces that still exist (a teardown check for tests)."""
    listed = _ip("netns", "list", check=False)
    mine = f"{PREFIX}{os.getpid()}-"
    return [line.split()[0] for line in listed.stdout.splitlines() if line.startswith(mine)]


def _kill_inside(namespace: str) -> None:
    deadline = time.monotonic() + 10
    for _ in range(50):
        listed = _ip("netns", "pids", namespace, check=False)
        pids = [int(p) for p in listed.stdout.split() if p.isdigit()]
        if not pids or time.monotonic() > deadline:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)


_PROBE = """
import socket, sys, time
address, timeout, ports = sys.argv[1], float(sys.argv[2]), [int(p) for p in sys.argv[3:]]
deadline = time.monotonic() + timeout
def open_(port):
    try:
        socket.create_connection((address, port), timeout=0.5).close()
        return True
    except OSError:
        return False
while not all(open_(p) for p in ports):
    if time.monotonic() > deadline:
        sys.exit(1)
    time.sleep(0.2)
"""


def _port_open(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_until(ready, timeout: float, what: str, failed) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        if failed():
            raise HostsError(f"{what} exited while starting")
        time.sleep(0.2)
    raise HostsError(f"{what} did not start within {timeout:.0f} s")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=IP_TIMEOUT)
    if check and done.returncode != 0:
        raise HostsError(f"ip {' '.join(args)} failed: {done.stderr.strip()}")
    return done


@atexit.register
def _close_all_at_exit() -> None:
    with _open_lock:
        left = list(_open)
    for hosts in left:
        hosts.close()
