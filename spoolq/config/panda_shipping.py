"""A PanDA configuration's brokers and queues, as spoolq's shipping tables.

PanDA's message-processor daemon listens to each processor's ``in_queue`` and
sends what the processor returns to its ``out_queue``, on the broker of the
queue's ``server``.  Under spoolq the same work is split between shippers and
a component, and these tables say which (the TOML file's ``[brokers]``,
``[destinations]`` and ``[shippers]``, validated by spoolq.shippers.config):

- ``mb_servers.S`` becomes the broker ``S``: ``host_port_list`` its hosts,
  ``username``, ``passcode``, ``vhost``, ``send_heartbeat_ms`` and
  ``recv_heartbeat_ms``, ``use_ssl`` (then ``ca_file`` or ``ca_path``, which
  spoolq needs to check the broker and PanDA does not), ``cert_file`` and
  ``key_file``.  A value ``${NAME}`` is the environment variable ``NAME``, as
  PanDA reads it (a passcode is read from it at each start).
- a queue ``Q`` on a server becomes the destination ``Q`` (its ``destination``);
- the ``in_queue`` ``Q`` of an enabled processor gets a receiver named ``Q``
  writing into the spool ``Q`` the processor serves;
- the ``out_queue`` ``Q`` of an enabled processor gets a sender named
  ``Q.out`` shipping the spool ``Q.out``, where the processor's returns go.

A queue without a ``server``, or with ``enable: false``, stays a local spool.
PanDA's own consumer settings (``ack_mode``, ``max_buffer_len``,
``buffer_block_sec``, ``use_transaction``, ``verbose``) do not apply: spoolq
acknowledges a message once it is on disk.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

from spoolq.config.table import Table

OUT_SUFFIX = ".out"
SERVER_KEYS = (
    "host_port_list", "use_ssl", "cert_file", "key_file", "ca_file", "ca_path", "username", "passcode",
    "vhost", "send_heartbeat_ms", "recv_heartbeat_ms", "verbose",
)  # fmt: skip
_ENVIRONMENT = re.compile(r"\$\{(\w+)\}")


def outgoing_spool(queue: str) -> str:
    """The spool a processor's returns go to when its ``out_queue`` is on a broker."""
    return queue + OUT_SUFFIX


def on_a_broker(queue: dict[str, Any]) -> bool:
    """Whether the queue is shipped: it names a server and is not switched off."""
    return queue.get("server") is not None and queue.get("enable", True) is not False


def broker_table(table: Table) -> dict[str, Any]:
    """``mb_servers.S`` as a ``[brokers.S]`` table."""
    table.reject_unknown(SERVER_KEYS)
    hosts = [part for entry in table.strings("host_port_list") for part in _resolved(entry).split(",")]
    broker: dict[str, Any] = {"hosts": hosts}
    username = table.string("username", None)
    if username is not None:
        broker["username"] = _resolved(username)
    passcode = table.string("passcode", None)
    if passcode is not None:
        variable = _ENVIRONMENT.fullmatch(passcode)
        broker.update({"passcode_env": variable.group(1)} if variable else {"passcode": passcode})
    for panda_key, key in (
        ("vhost", "vhost"),
        ("send_heartbeat_ms", "heartbeat_send_ms"),
        ("recv_heartbeat_ms", "heartbeat_recv_ms"),
        ("use_ssl", "use_tls"),
        ("cert_file", "cert_file"),
        ("key_file", "key_file"),
        ("ca_file", "ca_file"),
        ("ca_path", "ca_path"),
    ):
        if table.data.get(panda_key) is not None:
            broker[key] = table.data[panda_key]
    table.boolean("verbose", False)
    if table.boolean("use_ssl", False) and not (broker.get("ca_file") or broker.get("ca_path")):
        raise table.error(
            "use_ssl",
            "needs ca_file or ca_path in this entry as well: spoolq always checks the broker's"
            " certificate (PanDA does not)",
        )
    return broker


def _resolved(value: str) -> str:
    """PanDA's ``${NAME}``: the environment variable's value when it is set, else the text itself."""
    match = _ENVIRONMENT.fullmatch(value)
    return os.environ.get(match.group(1), value) if match else value


def shipping_tables(
    queues: dict[str, dict[str, Any]], processors: Iterable[tuple[str | None, str | None]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``[destinations]`` and ``[shippers]`` for ``queues`` and the enabled processors' (in, out) queues."""
    destinations = {
        name: {"broker": queue["server"], "address": queue["destination"]}
        for name, queue in queues.items()
        if on_a_broker(queue) and isinstance(queue.get("destination"), str)
    }
    shippers: dict[str, Any] = {}
    for in_queue, out_queue in processors:
        if in_queue in destinations:
            shippers[in_queue] = {"kind": "receive", "destination": in_queue, "spool": in_queue}
        if out_queue in destinations:
            spool = outgoing_spool(out_queue)
            shippers[spool] = {"kind": "ship", "destination": out_queue, "spool": spool}
    return destinations, shippers
