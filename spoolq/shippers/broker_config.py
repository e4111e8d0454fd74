"""The ``[brokers.NAME]`` tables: a failover list of hosts, how to log in, TLS.

Part of the shipping configuration (spoolq.shippers.config reads the other
tables).  Secrets come from a file or an environment variable, never from the
command line.  With ``use_tls`` the broker's certificate is always verified,
against exactly one of ``ca_file`` (a PEM bundle) and ``ca_path`` (a directory
of CA certificates, as /etc/grid-security/certificates).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from spoolq.config.table import Table
from spoolq.shippers.failover import ORDERS
from spoolq.shippers.security.ca_directory import NoCACertificates, ca_certificates

BROKER_KEYS = (
    "hosts", "username", "passcode", "passcode_file", "passcode_env", "vhost",
    "heartbeat_send_ms", "heartbeat_recv_ms", "use_tls", "ca_file", "ca_path", "cert_file",
    "key_file", "connect_timeout", "order",
)  # fmt: skip


@dataclass(frozen=True)
class BrokerConfig:
    """One broker: a failover list of (host, port) and how to log in."""

    name: str
    hosts: tuple[tuple[str, int], ...]
    username: str | None = None
    passcode: str | None = field(default=None, repr=False)
    vhost: str | None = "/"
    heartbeats: tuple[int, int] = (0, 0)  # (send, receive) in milliseconds
    use_tls: bool = False
    ca_file: str | None = None
    ca_path: str | None = None  # a directory of CA certificates (bundled at each connect)
    cert_file: str | None = None
    key_file: str | None = None
    connect_timeout: float = 10.0
    order: str = "random"  # or "in-order": spoolq.shippers.failover


def _host_port(table: Table, text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise table.error("hosts", f"entry {text!r} is not host:port")
    return host.strip("[]"), int(port)


def _secret(table: Table) -> str | None:
    inline = table.string("passcode", None)
    file = table.file_path("passcode_file")
    variable = table.string("passcode_env", None)
    if sum(x is not None for x in (inline, file, variable)) > 1:
        raise table.error("passcode", "give only one of passcode, passcode_file, passcode_env")
    if file is not None:
        try:
            with open(file, encoding="utf-8") as handle:
                return handle.read().strip()
        except OSError as exc:
            raise table.error("passcode_file", f"names an unreadable file: {file}: {exc.strerror}") from None
    if variable is not None:
        if variable not in os.environ:
            raise table.error("passcode_env", f"names the environment variable {variable}, which is not set")
        return os.environ[variable]
    return inline


def parse_broker(name: str, t: Table) -> BrokerConfig:
    t.reject_unknown(BROKER_KEYS)
    broker = BrokerConfig(
        name=name,
        hosts=tuple(_host_port(t, h) for h in t.strings("hosts")),
        username=t.string("username", None),
        passcode=_secret(t),
        vhost=t.string("vhost", "/"),
        heartbeats=(
            t.integer("heartbeat_send_ms", 0, minimum=0),
            t.integer("heartbeat_recv_ms", 0, minimum=0),
        ),
        use_tls=t.boolean("use_tls", False),
        ca_file=t.file_path("ca_file"),
        ca_path=t.file_path("ca_path"),
        cert_file=t.file_path("cert_file"),
        key_file=t.file_path("key_file"),
        connect_timeout=t.number("connect_timeout", 10.0, minimum=0.1),
        order=t.choice("order", ORDERS, "random"),
    )
    _check_tls_trust(t, broker)
    if bool(broker.cert_file) != bool(broker.key_file):
        raise t.error("cert_file", "must be given together with key_file")
    return broker


def _check_tls_trust(t: Table, broker: BrokerConfig) -> None:
    """With ``use_tls``, exactly one of ``ca_file`` and ``ca_path``, and a CA in the directory."""
    if not broker.use_tls:
        return
    if bool(broker.ca_file) == bool(broker.ca_path):
        raise t.error(
            "ca_file",
            "give exactly one of ca_file and ca_path with use_tls"
            " (the broker's certificate is always verified)",
        )
    if broker.ca_path:
        try:
            ca_certificates(broker.ca_path)
        except NoCACertificates as exc:
            raise t.error("ca_path", str(exc)) from None
