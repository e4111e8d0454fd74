"""Shipper test set-up: node configurations, and shippers run in threads."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from pathlib import Path

from spoolq.root import SpoolRoot
from spoolq.shippers import build_shipper
from spoolq.shippers.config import load_shipping


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def write_node_config(
    directory: Path,
    node: str,
    broker,
    *,
    hosts=None,
    broker_extra="",
    ship_extra="",
    receive_extra="",
    top_extra="",
) -> Path:
    """A spool root and a configuration for ``node``: shippers "out" and "in"."""
    directory.mkdir(parents=True, exist_ok=True)
    hosts = hosts or [f"127.0.0.1:{broker.stomp_port}"]
    host_list = ", ".join(f'"{h}"' for h in hosts)
    path = directory / "spoolq.toml"
    path.write_text(
        f"""root = "root"
node = "{node}"
{top_extra}
[brokers.main]
hosts = [{host_list}]
username = "guest"
passcode_env = "SPOOLQ_TEST_PASSCODE"
vhost = "/"
connect_timeout = 5
{broker_extra}
[destinations.nodes]
broker = "main"
address = "/queue/spoolq-test.{{node}}"
prefetch = 200

[shippers.out]
kind = "ship"
destination = "nodes"
spool = "outgoing"
window = 200
receipt_timeout = 10
backoff_max = 1
{ship_extra}
[shippers.in]
kind = "receive"
destination = "nodes"
spool = "incoming"
backoff_max = 1
{receive_extra}
"""
    )
    return path


def root_of(config_path: Path) -> SpoolRoot:
    return SpoolRoot(config_path.parent / "root")


@contextlib.contextmanager
def running(config_path: Path, *names: str, **options):
    """Run the named shippers of a node in threads; stop and join them on exit.

    ``options`` go to :func:`build_shipper` (``metrics_interval``, say).
    """
    shipping = load_shipping(str(config_path))
    root = root_of(config_path)
    shippers = [build_shipper(root, shipping, name, **options) for name in names]
    threads = [threading.Thread(target=s.run, name=f"shipper-{s.config.name}") for s in shippers]
    for thread in threads:
        thread.start()
    try:
        yield shippers
    finally:
        for shipper in shippers:
            shipper.stop()
        for thread in threads:
            thread.join(60)


def wait_until(condition, timeout: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
