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
    queue_type = "quorum"                # replicated over a broker cluster; default "classic"

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

The broker tables are read by spoolq.shippers.broker_config.  Secrets come
from a file or an environment variable, never from the command line.  Every
error names the file and the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from spoolq.config import Config, read_toml
from spoolq.config.table import Table
from spoolq.errors import ConfigError
from spoolq.routing import RoutingError, check_node_name
from spoolq.shippers.broker_config import BrokerConfig, parse_broker
from spoolq.shippers.queue_types import QUEUE_TYPES, REFUSED_QUEUE_TYPES

ACK_MODES = ("client-individual", "client", "auto")
SHIPPER_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")

DESTINATION_KEYS = ("broker", "address", "ack", "prefetch", "queue_type")
SHIPPER_KEYS = (
    "kind", "destination", "spool", "window", "receipt_timeout", "send_timeout", "max_size",
    "sign", "encrypt_to", "verify", "dedup_window", "backoff_max", "security", "enable", "ssm_store",
    "dropbox",
    "pool",
)  # fmt: skip
SECURITY_KEYS = ("cert", "key", "ca_file", "ca_path", "check_crls", "allow_list", "deny_list")


@dataclass(frozen=True)
class DestinationConfig:
    name: str
    broker: str
    address: str  # may hold "{node}"
    ack: str = "client-individual"
    prefetch: int = 100
    queue_type: str = "classic"  # spoolq.shippers.queue_types: the headers each SEND and SUBSCRIBE carry


@dataclass(frozen=True)
class SecurityConfig:
    cert: str | None = None
    key: str | None = None
    ca_file: str | None = None
    ca_path: str | None = None
    check_crls: bool = False  # verify: the signer's chain checked against the CRLs of ca_file/ca_path
    allow_list: str | None = None
    deny_list: str | None = None


@dataclass(frozen=True)
class ShipperConfig:
    name: str
    kind: str
    destination: str
    spool: str  # ship: the outgoing spool; receive: where unaddressed messages go
    window: int | str = "auto"  # sends in flight awaiting their receipt: a number, or "auto" (send_window.py)
    receipt_timeout: float = 30.0
    send_timeout: float = 30.0
    max_size: int = 10 * 1024 * 1024
    sign: bool = False
    encrypt_to: str | None = None  # receiver's certificate
    verify: bool = False  # receive: require a valid S/MIME signature
    dedup_window: int = 100_000
    backoff_max: float = 60.0
    security: SecurityConfig = SecurityConfig()
    enable: bool = True  # false: `spoolq run` does not start it
    ssm_store: str | None = None  # receive: write APEL SSM's incoming/reject stores under this path
    dropbox: str | None = None  # ship: a plain directory (SSM's path_type = directory) moved into spool
    pool: str | None = None  # receive: consume COMPONENT@POOL, shared with the pool's other nodes


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

    def enabled_shippers(self) -> tuple[ShipperConfig, ...]:
        return tuple(s for s in self.shippers.values() if s.enable)


def load_shipping(path: str | None) -> ShippingConfig:
    """Read the shipping tables of the file at ``path`` (``None``: nothing configured)."""
    if path is None:
        return ShippingConfig(None, None, {}, {}, {})
    return parse_shipping(path, read_toml(path))


def shipping_of(config: Config) -> ShippingConfig:
    """The shipping tables a loaded :class:`Config` kept raw, validated now.

    No second read of the file: what ``spoolq run`` validates on a reload is
    exactly what it then runs.  Without a ``[shippers.*]`` table nothing is
    read: a PanDA JSON file keeps its ``mb_servers`` in ``Config.brokers`` in
    PanDA's own shape, which is not ours to check.
    """
    if config.path is None or not config.shippers:
        return ShippingConfig(config.path, config.node, {}, {}, {})
    data = {"brokers": config.brokers, "destinations": config.destinations, "shippers": config.shippers}
    if config.node is not None:
        data["node"] = config.node
    return parse_shipping(config.path, data)


def parse_shipping(path: str, data: dict) -> ShippingConfig:
    """Validate the shipping part of a parsed file.

    Only ``node`` and the ``brokers``, ``destinations`` and ``shippers`` tables
    are read here; the other top-level keys belong to the component configuration.
    """
    top = Table(path, "", data)
    node = top.string("node", None)
    if node is not None and "@" in node:
        raise top.error("node", f"must be a name without '@', not {node!r}")
    brokers = {n: parse_broker(n, t) for n, t in top.tables("brokers").items()}
    destinations = {n: _destination(n, t, brokers) for n, t in top.tables("destinations").items()}
    shippers = {n: _shipper(n, t, destinations) for n, t in top.tables("shippers").items()}
    return ShippingConfig(path, node, brokers, destinations, shippers)


def _destination(name: str, t: Table, brokers: dict) -> DestinationConfig:
    t.reject_unknown(DESTINATION_KEYS)
    destination = DestinationConfig(
        name=name,
        broker=t.string("broker"),
        address=t.string("address"),
        ack=t.choice("ack", ACK_MODES, "client-individual"),
        prefetch=t.integer("prefetch", 100, minimum=1),
        queue_type=_queue_type(t),
    )
    if destination.broker not in brokers:
        raise t.error("broker", f"names {destination.broker!r}, which is not a [brokers.*] table")
    return destination


def _queue_type(t: Table) -> str:
    value = t.string("queue_type", "classic")
    if value in REFUSED_QUEUE_TYPES:
        raise t.error("queue_type", f"{value!r}: {REFUSED_QUEUE_TYPES[value]}")
    return t.choice("queue_type", QUEUE_TYPES, "classic")


def _shipper(name: str, t: Table, destinations: dict) -> ShipperConfig:
    t.reject_unknown(SHIPPER_KEYS)
    if not SHIPPER_NAME.fullmatch(name):  # it names files: .shippers/NAME.json, shipper-NAME.prom
        raise t.error_at(t.path, "a shipper name is letters, digits, '_', '-' and '.', not starting with '.'")
    shipper = ShipperConfig(
        name=name,
        kind=t.string("kind", "ship"),  # a shipper kind's name: checked when it is looked up
        destination=t.string("destination"),
        spool=t.string("spool"),
        window=_window(t),
        receipt_timeout=t.number("receipt_timeout", 30.0, minimum=0.1),
        send_timeout=t.number("send_timeout", 30.0, minimum=0.1),
        max_size=t.integer("max_size", 10 * 1024 * 1024, minimum=1),
        sign=t.boolean("sign", False),
        encrypt_to=t.file_path("encrypt_to"),
        verify=t.boolean("verify", False),
        dedup_window=t.integer("dedup_window", 100_000, minimum=0),
        backoff_max=t.number("backoff_max", 60.0, minimum=0.1),
        security=_security(t.table("security", {})),
        enable=t.boolean("enable", True),
        ssm_store=t.file_path("ssm_store"),
        dropbox=t.file_path("dropbox"),
        pool=_pool(t),
    )
    if shipper.dropbox is not None and shipper.kind == "receive":
        raise t.error("dropbox", "is for senders (a directory of files to send), not receivers")
    if shipper.destination not in destinations:
        raise t.error("destination", f"names {shipper.destination!r}, which is not a [destinations.*] table")
    if shipper.pool and "{node}" not in destinations[shipper.destination].address:
        raise t.error("pool", "needs a destination whose address holds {node} (the pool's name goes there)")
    return shipper


def _pool(t: Table) -> str | None:
    """``pool``: a receiver consumes the pool's destination instead of its node's; a node-like name."""
    pool = t.string("pool", None)
    if pool is None:
        return None
    if t.string("kind", "ship") != "receive":
        raise t.error("pool", 'only a receiver (kind = "receive") consumes a pool\'s destination')
    try:
        return check_node_name(pool)
    except RoutingError as exc:
        raise t.error("pool", str(exc)) from None


def _window(t: Table) -> int | str:
    """A number of sends, or ``"auto"`` (the default): sized from the link (send_window.py)."""
    value = t.data.get("window", "auto")
    if value == "auto":
        return value
    if isinstance(value, str):
        raise t.error("window", f'must be a whole number >= 1 or "auto", not {value!r}')
    return t.integer("window", 100, minimum=1)


def _security(t: Table) -> SecurityConfig:
    t.reject_unknown(SECURITY_KEYS)
    return SecurityConfig(
        cert=t.file_path("cert"),
        key=t.file_path("key"),
        ca_file=t.file_path("ca_file"),
        ca_path=t.file_path("ca_path"),
        check_crls=t.boolean("check_crls", False),
        allow_list=t.file_path("allow_list"),
        deny_list=t.file_path("deny_list"),
    )
