"""A broker running as a process group of ours: frozen, stopped and checked the same way for each product.

RabbitMQ (:mod:`spoolq.testbed.broker`) and ActiveMQ (:mod:`spoolq.testbed.activemq`)
start differently, but once started each is a shell wrapper and a VM in a
process group of its own, held in ``_node``.  What the tests do to a running
broker (freeze it, ask whether it runs, stop it for good) is done here once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time


def apt_install(*packages: str) -> None:
    """Install Debian ``packages`` (a test broker's product, missing on a fresh machine)."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages], check=True, env=env
    )


class BrokerProcess:
    """The part of a test broker that is a process group: ``_node`` is its leader, or ``None``.

    A subclass starts its product (``start``); stopping, restarting, freezing are the same for all.
    """

    _node: subprocess.Popen | None = None

    def stop(self) -> None:
        """Stop the broker (SIGTERM to its process group runs its shutdown), SIGKILL after 30 s."""
        node, self._node = self._node, None
        if node is not None:
            stop_group(node, 30)

    def restart(self) -> None:
        """Stop and start again: its store, and so every durable queue and persistent message, is kept."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Nothing of ours keeps running."""
        self.stop()

    @contextlib.contextmanager
    def frozen(self):
        """The broker stopped (SIGSTOP) for the block: connections stay open, nothing answers."""
        os.killpg(self._node.pid, signal.SIGSTOP)
        try:
            yield self
        finally:
            os.killpg(self._node.pid, signal.SIGCONT)

    @property
    def running(self) -> bool:
        return self._node is not None and self._node.poll() is None


def stop_group(process: subprocess.Popen, grace: float) -> None:
    """SIGTERM to ``process``'s group, SIGKILL to whatever of it is left after ``grace`` seconds."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    # The shell wrapper may exit before the VM and its helpers: sweep the group.
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if process.poll() is None:
        process.wait()
