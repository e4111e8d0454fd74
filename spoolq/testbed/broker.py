"""A real, isolated RabbitMQ node with its STOMP plugin, on 127.0.0.1 only.

Everything the node owns lives in one temporary directory: its node name,
ports (AMQP, STOMP, STOMP over TLS, Erlang distribution, epmd), data, logs,
configuration, enabled-plugins file and Erlang cookie (``HOME`` points there).
We start our own ``epmd`` on its own port first, so that no daemon is left
behind that we did not start; both it and the node are stopped by pid.

Used by the session fixture in ``tests/conftest.py`` and by
``benchmarks/bench_ship.py``.  A node can also run on another host
(:mod:`spoolq.testbed.hosts`): :mod:`spoolq.testbed.cluster` makes three of
them into a cluster with the same code.  Debian's ``rabbitmq-server`` package provides
the scripts; :func:`ensure_installed` installs it with apt-get when missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

from spoolq.testbed.broker_process import BrokerProcess, apt_install
from spoolq.testbed.hosts import LOOPBACK, Host
from spoolq.testbed.pki import TestCA

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
START_TIMEOUT = 60.0


def ensure_installed() -> None:
    """Install Debian's rabbitmq-server when its scripts are missing."""
    if not (RABBIT_BIN / "rabbitmq-server").exists():
        apt_install("rabbitmq-server", "openssl")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Broker(BrokerProcess):
    """One RabbitMQ node in ``directory``; :meth:`start` / :meth:`stop` may repeat.

    ``runs_on`` is the host it runs on (this machine's loopback by default);
    ``epmd_port`` is given when several nodes must share one port number, and
    ``starts_epmd=False`` when another node on the same host starts it.
    """

    product = "rabbitmq"
    user = "guest"
    passcode = "guest"
    vhost = "/"

    def __init__(
        self,
        directory: Path,
        *,
        runs_on: Host = LOOPBACK,
        nodename: str | None = None,
        ca: TestCA | None = None,
        epmd_port: int | None = None,
        starts_epmd: bool = True,
    ):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.runs_on = runs_on
        self.host = runs_on.address  # where clients connect
        self.listen = "127.0.0.1" if runs_on.namespace is None else "0.0.0.0"
        self.nodename = nodename or f"spoolq-test-{os.getpid()}@localhost"
        self.amqp_port, self.stomp_port, self.stomps_port = free_port(), free_port(), free_port()
        self.second_stomp_port = free_port()  # the same node under a second address: a failover list of two
        self.dist_port, self.epmd_port = free_port(), epmd_port or free_port()
        self.starts_epmd = starts_epmd
        self.ca = ca or TestCA(self.directory / "pki")
        self.server_cert = self.ca.issue(runs_on.hostname)
        self._epmd: subprocess.Popen | None = None
        self._node: subprocess.Popen | None = None
        self._write_configuration()

    # -- set-up ---------------------------------------------------------------------

    def _write_configuration(self) -> None:
        (self.directory / "rabbitmq.conf").write_text("\n".join([*self.configuration_lines(), ""]))

    def configuration_lines(self) -> list[str]:
        """The lines of ``rabbitmq.conf``; a cluster node adds its peers and opens guest to other hosts."""
        return [
            f"listeners.tcp.1 = {self.listen}:{self.amqp_port}",
            f"stomp.listeners.tcp.1 = {self.listen}:{self.stomp_port}",
            f"stomp.listeners.tcp.2 = {self.listen}:{self.second_stomp_port}",
            f"stomp.listeners.ssl.1 = {self.listen}:{self.stomps_port}",
            f"ssl_options.cacertfile = {self.ca.cert_file}",
            f"ssl_options.certfile = {self.server_cert.cert}",
            f"ssl_options.keyfile = {self.server_cert.key}",
            "ssl_options.verify = verify_peer",
            "ssl_options.fail_if_no_peer_cert = false",
            "loopback_users.guest = true",
            "disk_free_limit.absolute = 20MB",
            "log.console = false",
            "log.file.level = warning",
        ]

    def _enable_stomp(self) -> None:
        if (self.directory / "enabled_plugins").exists():
            return
        self.runs_on.run(
            [str(RABBIT_BIN / "rabbitmq-plugins"), "enable", "--offline", "rabbitmq_stomp"],
            env=self.env(),
            check=True,
            capture_output=True,
            timeout=120,
        )

    def env(self) -> dict[str, str]:
        """The environment every rabbitmq script of this node runs with."""
        d = self.directory
        address = self.runs_on.address.replace(".", ",")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update(
            HOME=str(d),  # the Erlang cookie is $HOME/.erlang.cookie: ours alone
            RABBITMQ_NODENAME=self.nodename,
            RABBITMQ_NODE_IP_ADDRESS=self.listen,
            RABBITMQ_NODE_PORT=str(self.amqp_port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            ERL_EPMD_PORT=str(self.epmd_port),
            ERL_EPMD_ADDRESS=self._epmd_addresses(),
            RABBITMQ_CONFIG_FILE=str(d / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(d / "advanced.config"),
            RABBITMQ_CONF_ENV_FILE=str(d / "rabbitmq-env.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(d / "enabled_plugins"),
            RABBITMQ_MNESIA_BASE=str(d / "mnesia"),
            RABBITMQ_LOG_BASE=str(d / "log"),
            RABBITMQ_PID_FILE=str(d / "rabbit.pid"),
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=f"-kernel inet_dist_use_interface {{{address}}}",
        )
        return env

    def _epmd_addresses(self) -> str:
        own = self.runs_on.address
        return own if own == "127.0.0.1" else f"127.0.0.1,{own}"

    # -- life cycle -----------------------------------------------------------------

    def start(self) -> None:
        """Start epmd (once) and the node; return when STOMP accepts connections."""
        self.start_epmd()
        self.launch()
        self.wait_started()

    def start_epmd(self) -> None:
        """Our own epmd on its own port, once, unless another node on this host starts it."""
        if self._epmd is not None or not self.starts_epmd:
            return
        self._epmd = self.runs_on.popen(
            [
                shutil.which("epmd") or "epmd",
                "-port",
                str(self.epmd_port),
                "-address",
                self._epmd_addresses(),
            ],
            env=self.env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.runs_on.wait_for_ports([self.epmd_port], 10, "epmd")

    def launch(self) -> None:
        """Start the node's process and return at once (:meth:`wait_started` waits for it)."""
        ensure_installed()
        self._enable_stomp()
        log = open(self.directory / "node.out", "ab")  # noqa: SIM115  (kept by the child)
        self._node = self.runs_on.popen(
            [str(RABBIT_BIN / "rabbitmq-server")],
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as one, by pid
        )
        log.close()

    def wait_started(self, timeout: float = START_TIMEOUT) -> None:
        """Return when the node's STOMP listeners accept connections; raise if it exits first."""
        self.runs_on.wait_for_ports(
            [self.stomp_port, self.stomps_port],
            timeout,
            f"RabbitMQ node {self.nodename} (see {self.directory / 'node.out'} and {self.directory / 'log'})",
            failed=lambda: self._node is None or self._node.poll() is not None,
        )

    def close(self) -> None:
        """Stop the node and our epmd; nothing of ours keeps running."""
        self.stop()
        epmd, self._epmd = self._epmd, None
        if epmd is not None:
            epmd.terminate()
            try:
                epmd.wait(10)
            except subprocess.TimeoutExpired:
                epmd.kill()
                epmd.wait()

    # -- control --------------------------------------------------------------------

    def ctl(self, *args: str, timeout: float = 60) -> str:
        """Run ``rabbitmqctl ARGS`` against this node; return its output."""
        done = self.runs_on.run(
            [str(RABBIT_BIN / "rabbitmqctl"), "-n", self.nodename, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr or done.stdout}")
        return done.stdout

    def close_all_connections(self, reason: str = "closed by test") -> None:
        """The broker drops every client connection, as an operator would."""
        self.ctl("close_all_connections", reason)

    def queue_depth(self, queue: str) -> int:
        """Messages in ``queue`` (ready and unacknowledged), as the broker counts them."""
        for line in self.ctl("list_queues", "-q", "--no-table-headers", "name", "messages").splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == queue:
                return int(parts[1])
        return 0

    def delete_queue(self, queue: str) -> None:
        self.ctl("delete_queue", queue)
