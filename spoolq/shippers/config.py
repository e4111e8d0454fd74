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
    # TLS: use_tls = true, ca_file = "..." or ca_path = "dir", cert_file = "...", key_file = "..."

    [destinations.nodes]
    broker = "main"
    address = "/queue/spoolq.{node}"     # {node}: the addressed node
    ack = "client-individual"
    prefetch = 100

    [shippers.out]
    kind = "ship"
    destination = "nodes"
    spool = "outgoing"
    sign = true

    [shippers.out.security]              # S/MIME signing and checking (optional)
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
from spoolq.config.table import Table
from spoolq.errors import ConfigError
from spoolq.shippers.ca_directory import NoCACertificates, ca_certificates

ACK_MODES = ("client-individual", "client", "auto")
KINDS = ("ship", "receive")

BROKER_KEYS = (
    "hosts", "username", "passcode", "passcode_file", "passcode_env", "vhost",
    "heartbeat_send_ms", "heartbeat_recv_ms", "use_tls", "ca_file", "ca_path", "cert_file",
    "key_file", "connect_timeout",
)  # fmt: skip
DESTINATION_KEYS = ("broker", "address", "ack", "prefetch")
SHIPPER_KEYS = (
    "kind", "destination", "spool", "window", "receipt_timeout", "send_timeout", "max_size",
    "sign", "encrypt_to", "verify", "dedup_window", "backoff_max", "security",
)  # fmt: skip
SECURITY_KEYS = ("cert", "key", "ca_file", "ca_path", "allow_list", "deny_list")


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
    security: SecurityConfig = SecurityConfig()


@dataclass(frozen=True)
class ShippingConfig:
    path: str | None
    node: str | None
    brokers: dict[str, BrokerConfig]
    destinations: dict[str, DestinationConfig]
    shippers: dict[str, ShipperConfig]

    def shipper(self, name: str) -> ShipperConfig:
        if name not in self.shippers:
            known = ", ".join(sorted(self.shippers)) or "none"
            raise ConfigError(f"{self.path}: no [shippers.{name}] table (configured: {known})")
        return self.shippers[name]


def load_shipping(path: str | None) -> ShippingConfig:
    """Read the shipping tables of ``path`` (``None``: nothing configured).

    Only ``node`` and the ``brokers``, ``destinations`` and ``shippers`` tables
    are read here; the other top-level keys belong to the component configuration.
    """
    if path is None:
        return ShippingConfig(None, None, {}, {}, {})
    top = Table(path, "", read_toml(path))
    node = top.string("node", None)
    if node is not None and "@" in node:
        raise top.error("node", f"must be a name without '@', not {node!r}")
    brokers = {n: _broker(n, t) for n, t in top.tables("brokers").items()}
    destinations = {n: _destination(n, t, brokers) for n, t in top.tables("destinations").items()}
    shippers = {n: _shipper(n, t, destinations) for n, t in top.tables("shippers").items()}
    return ShippingConfig(path, node, brokers, destinations, shippers)


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


def _broker(name: str, t: Table) -> BrokerConfig:
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


def _destination(name: str, t: Table, brokers: dict) -> DestinationConfig:
    t.reject_unknown(DESTINATION_KEYS)
    destination = DestinationConfig(
        name=name,
        broker=t.string("broker"),
        address=t.string("address"),
        ack=t.choice("ack", ACK_MODES, "client-individual"),
        prefetch=t.integer("prefetch", 100, minimum=1),
    )
    if destination.broker not in brokers:
        raise t.error("broker", f"names {destination.broker!r}, which is not a [brokers.*] table")
    return destination


def _shipper(name: str, t: Table, destinations: dict) -> ShipperConfig:
    t.reject_unknown(SHIPPER_KEYS)
    shipper = ShipperConfig(
        name=name,
        kind=t.choice("kind", KINDS, "ship"),
        destination=t.string("destination"),
        spool=t.string("spool"),
        window=t.integer("window", 100, minimum=1),
        receipt_timeout=t.number("receipt_timeout", 30.0, minimum=0.1),
        send_timeout=t.number("send_timeout", 30.0, minimum=0.1),
        max_size=t.integer("max_size", 10 * 1024 * 1024, minimum=1),
        sign=t.boolean("sign", False),
        encrypt_to=t.file_path("encrypt_to"),
        verify=t.boolean("verify", False),
        dedup_window=t.integer("dedup_window", 100_000, minimum=0),
        backoff_max=t.number("backoff_max", 60.0, minimum=0.1),
        security=_security(t.table("security", {})),
    )
    if shipper.destination not in destinations:
        raise t.error("destination", f"names {shipper.destination!r}, which is not a [destinations.*] table")
    return shipper


def _security(t: Table) -> SecurityConfig:
    t.reject_unknown(SECURITY_KEYS)
    return SecurityConfig(
        cert=t.file_path("cert"),
        key=t.file_path("key"),
        ca_file=t.file_path("ca_file"),
        ca_path=t.file_path("ca_path"),
        allow_list=t.file_path("allow_list"),
        deny_list=t.file_path("deny_list"),
    )
