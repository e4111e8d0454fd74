"""Broker, destination, shipper and security settings, read from the spoolq TOML file.

The shape follows PanDA's message-broker configuration: named brokers (a
failover list of ``host:port``), named destinations on a broker, and named
shippers that move one spool to a destination (``kind = "ship"``) or a
destination into spools (``kind = "receive"``)::

    node = "node1"                       # this node's name, for COMPONENT@NODE addresses

    [brokers.main]
    hosts = ["mq1.example.org:61613", "mq2.example.org:61613"]  # start at a random one
    username = "spoolq"
    passcode_file = "secrets/mq"         # or passcode_env = "SPOOLQ_MQ_PASSCODE"
    vhost = "/"
    heartbeat_send_ms = 15000
    heartbeat_recv_ms = 15000
    # TLS: use_tls = true, ca_file = "...", cert_file = "...", key_file = "..."

    [destinations.nodes]
    broker = "main"
    address = "/queue/spoolq.{node}"     # {node}: the addressed node
    ack = "client-individual"
    prefetch = 100

    [shippers.out]
    kind = "ship"
    destination = "nodes"
    spool = "outgoing"

    [security]                           # S/MIME signing and checking (optional)
    cert = "hostcert.pem"
    key = "hostkey.pem"
    ca_path = "/etc/grid-security/certificates"
    allow_list = "allowed_dns"
    deny_list = "denied_dns"

Secrets come from a file or an environment variable, never from the command
line.  Every error names the file and the key.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from spoolq.config import read_toml
from spoolq.errors import ConfigError
from spoolq.shippers.keys import Table

ACK_MODES = ("client-individual", "client", "auto")
KINDS = ("ship", "receive")


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
    cert_file: str | None = None
    key_file: str | None = None
    connect_timeout: float = 10.0


@dataclass(frozen=True)
class DestinationConfig:
    name: str
    broker: str
    address: str  # may hold "{node}"
    ack: str = "client-individual"
    prefetch: int = 100


@dataclass(frozen=True)
class SecurityConfig:
    cert: str | None = None
    key: str | None = None
    ca_file: str | None = None
    ca_path: str | None = None
    allow_list: str | None = None
    deny_list: str | None = None


@dataclass(frozen=True)
class ShipperConfig:
    name: str
    kind: str
    destination: str
    spool: str  # ship: the outgoing spool; receive: where unaddressed messages go
    window: int = 100  # sends in flight awaiting their receipt
    receipt_timeout: float = 30.0
    send_timeout: float = 30.0
    max_size: int = 10 * 1024 * 1024
    sign: bool = False
    encrypt_to: str | None = None  # receiver's certificate
    verify: bool = False  # receive: require a valid S/MIME signature
    dedup_window: int = 100_000
    backoff_max: float = 60.0


@dataclass(frozen=True)
class ShippingConfig:
    path: str | None
    node: str | None
    brokers: dict[str, BrokerConfig]
    destinations: dict[str, DestinationConfig]
    shippers: dict[str, ShipperConfig]
    security: SecurityConfig = SecurityConfig()

    def shipper(self, name: str) -> ShipperConfig:
        if name not in self.shippers:
            known = ", ".join(sorted(self.shippers)) or "none"
            raise ConfigError(f"{self.path}: no [shippers.{name}] table (configured: {known})")
        return self.shippers[name]


def load_shipping(path: str | None) -> ShippingConfig:
    """Read the shipping tables of ``path`` (``None``: nothing configured)."""
    if path is None:
        return ShippingConfig(None, None, {}, {}, {})
    data = read_toml(path)
    node = data.get("node")
    if node is not None and (not isinstance(node, str) or not node or "@" in node):
        raise ConfigError(f"{path}: key 'node' must be a non-empty name without '@'")
    brokers = {n: _broker(path, n, t) for n, t in _tables(path, data, "brokers").items()}
    destinations = {
        n: _destination(path, n, t, brokers) for n, t in _tables(path, data, "destinations").items()
    }
    shippers = {n: _shipper(path, n, t, destinations) for n, t in _tables(path, data, "shippers").items()}
    security = _security(path, data.get("security", {}))
    return ShippingConfig(path, node, brokers, destinations, shippers, security)


def _tables(path: str, data: dict, section: str) -> dict[str, dict]:
    tables = data.get(section, {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{path}: '{section}' must be a table of named tables")
    return tables


def _host_port(table: Table, text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise table.fail("hosts", f"entry {text!r} is not host:port")
    return host.strip("[]"), int(port)


def _secret(table: Table) -> str | None:
    inline = table.string("passcode", None)
    file = table.path("passcode_file")
    variable = table.string("passcode_env", None)
    if sum(x is not None for x in (inline, file, variable)) > 1:
        raise table.fail("passcode", "give only one of passcode, passcode_file, passcode_env")
    if file is not None:
        try:
            with open(file, encoding="utf-8") as handle:
                return handle.read().strip()
        except OSError as exc:
            raise table.fail("passcode_file", f"names an unreadable file: {file}: {exc.strerror}") from None
    if variable is not None:
        if variable not in os.environ:
            raise table.fail("passcode_env", f"names the environment variable {variable}, which is not set")
        return os.environ[variable]
    return inline


def _broker(path: str, name: str, data: dict) -> BrokerConfig:
    t = Table(path, f"brokers.{name}", data)
    hosts = tuple(_host_port(t, h) for h in t.strings("hosts"))
    broker = BrokerConfig(
        name=name,
        hosts=hosts,
        username=t.string("username", None),
        passcode=_secret(t),
        vhost=t.string("vhost", "/"),
        heartbeats=(
            t.number("heartbeat_send_ms", 0, whole=True),
            t.number("heartbeat_recv_ms", 0, whole=True),
        ),
        use_tls=t.flag("use_tls"),
        ca_file=t.path("ca_file"),
        cert_file=t.path("cert_file"),
        key_file=t.path("key_file"),
        connect_timeout=t.number("connect_timeout", 10.0, minimum=0.1),
    )
    t.check_unknown()
    if broker.use_tls and not broker.ca_file:
        raise t.fail("ca_file", "is required with use_tls: the broker's certificate is always verified")
    if bool(broker.cert_file) != bool(broker.key_file):
        raise t.fail("cert_file", "and key_file must be given together")
    return broker


def _destination(path: str, name: str, data: dict, brokers: dict) -> DestinationConfig:
    t = Table(path, f"destinations.{name}", data)
    destination = DestinationConfig(
        name=name,
        broker=t.string("broker"),
        address=t.string("address"),
        ack=t.choice("ack", ACK_MODES, "client-individual"),
        prefetch=t.number("prefetch", 100, minimum=1, whole=True),
    )
    t.check_unknown()
    if destination.broker not in brokers:
        raise t.fail("broker", f"names {destination.broker!r}, which is not a [brokers.*] table")
    return destination


def _shipper(path: str, name: str, data: dict, destinations: dict) -> ShipperConfig:
    t = Table(path, f"shippers.{name}", data)
    shipper = ShipperConfig(
        name=name,
        kind=t.choice("kind", KINDS, "ship"),
        destination=t.string("destination"),
        spool=t.string("spool"),
        window=t.number("window", 100, minimum=1, whole=True),
        receipt_timeout=t.number("receipt_timeout", 30.0, minimum=0.1),
        send_timeout=t.number("send_timeout", 30.0, minimum=0.1),
        max_size=t.number("max_size", 10 * 1024 * 1024, minimum=1, whole=True),
        sign=t.flag("sign"),
        encrypt_to=t.path("encrypt_to"),
        verify=t.flag("verify"),
        dedup_window=t.number("dedup_window", 100_000, minimum=0, whole=True),
        backoff_max=t.number("backoff_max", 60.0, minimum=0.1),
    )
    t.check_unknown()
    if shipper.destination not in destinations:
        raise t.fail("destination", f"names {shipper.destination!r}, which is not a [destinations.*] table")
    return shipper


def _security(path: str, data: dict) -> SecurityConfig:
    t = Table(path, "security", data)
    security = SecurityConfig(
        cert=t.path("cert"),
        key=t.path("key"),
        ca_file=t.path("ca_file"),
        ca_path=t.path("ca_path"),
        allow_list=t.path("allow_list"),
        deny_list=t.path("deny_list"),
    )
    t.check_unknown()
    return security
