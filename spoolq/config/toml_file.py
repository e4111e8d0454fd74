"""The TOML configuration file: deployment keys, components, and the shipper tables.

::

    root = "/var/spool/spoolq"       # relative paths: to the file's directory
    node = "node1"                   # this node's name in COMPONENT@NODE addresses
    durable = true
    granularity = 60
    metrics_dir = "/var/lib/spoolq"  # default ROOT/.metrics
    metrics_interval = 10            # seconds between metrics file writes
    metrics_listen = "127.0.0.1:9464"  # `spoolq run` serves /metrics there (default: off)
    umask = "0027"                   # daemons' file creation mask (default: the process's)

    [components.pe]                  # one table per component
    handler = "command"
    workers = 2
    [components.pe.options]          # the handler's own settings, free form
    command = ["/usr/bin/archive"]
    [components.pe.retry]
    max_attempts = 3

``node``, ``[security]``, ``[brokers.*]``, ``[destinations.*]`` and
``[shippers.*]`` are kept raw for the shippers (spoolq.shippers.config).  Any
other key is an error naming it (the annotated reference is
``spoolq.example.toml`` at the top of the repository).
"""

from __future__ import annotations

import os
import re
import tomllib
from typing import Any

from spoolq.config.model import ComponentConfig, Config, RetryPolicy
from spoolq.config.source import read_bytes
from spoolq.config.table import Table
from spoolq.errors import ConfigError, SpoolError
from spoolq.routing import RoutingError, check_node_name
from spoolq.spool.layout import DEFAULT_GRANULARITY
from spoolq.spool.root import check_spool_name

RAW_SECTIONS = ("brokers", "destinations", "shippers")
TOP_KEYS = (
    *("root", "durable", "granularity", "metrics_dir", "metrics_interval", "metrics_listen", "umask"),
    "components",
    *("node", "security", *RAW_SECTIONS),  # read by spoolq.shippers.config
)
COMPONENT_KEYS = (
    "spool",
    "handler",
    "options",
    "types",
    "workers",
    "retry",
    "reply_spool",
    "dropbox",
    "poll",
    "max_size",
    "lock_timeout",
    "tick",
    "enable",
)
RETRY_KEYS = ("max_attempts", "backoff", "backoff_factor", "max_delay")
_DEFAULT = ComponentConfig(name="-", spool="-", handler="-")
_DEFAULT_RETRY = RetryPolicy()


def read_toml(path: str, text: bytes | None = None) -> dict[str, Any]:
    """Parse the TOML file at ``path`` (or ``text``: its bytes); errors are :class:`ConfigError`."""
    try:
        return tomllib.loads((read_bytes(path) if text is None else text).decode())
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: not UTF-8 text ({exc.reason})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses per nested array or inline table
        raise ConfigError(f"{path}: not valid TOML: arrays or tables nested too deeply") from None


def load_toml_config(path: str, text: bytes | None = None) -> Config:
    """Load and validate the TOML file at ``path`` (``text``: its bytes, as read before)."""
    top = Table(path, "", read_toml(path, text))
    top.reject_unknown(TOP_KEYS)
    components = tuple(parse_component(name, table) for name, table in top.tables("components").items())
    raw = {section: {n: t.data for n, t in top.tables(section).items()} for section in RAW_SECTIONS}
    return Config(
        path=path,
        root=relative_path(path, top.string("root", None)),
        node=node_name(top),
        durable=top.boolean("durable", True),
        granularity=top.integer("granularity", DEFAULT_GRANULARITY, minimum=1),
        metrics_dir=relative_path(path, top.string("metrics_dir", None)),
        metrics_interval=top.number("metrics_interval", 10.0, minimum=0.1),
        metrics_listen=parse_listen(top, "metrics_listen"),
        umask=parse_umask(top),
        components=components,
        security=dict(top.table("security", {}).data),
        **raw,
    )


def parse_listen(table: Table, key: str) -> tuple[str, int] | None:
    """``"HOST:PORT"``, or a port alone (a TOML integer or digits) on 127.0.0.1; ``None`` when absent.

    Only loopback unless the operator names another address: metrics tell
    anyone who can read them what this node holds.  Port 0: any free port (logged).
    """
    if key not in table.data:
        return None
    value = table.data[key]
    expected = f'must be "HOST:PORT" (e.g. "127.0.0.1:9464") or a port number, not {value!r}'
    if isinstance(value, int) and not isinstance(value, bool):
        host, port = "127.0.0.1", str(value)
    elif isinstance(value, str):
        host, sep, port = value.rpartition(":")
        host = host.strip("[]") if sep else "127.0.0.1"  # [::1]:9464 names an IPv6 address
    else:
        raise table.error(key, expected)
    if not port.isdigit() or int(port) > 65535 or not host or any(c.isspace() for c in host):
        raise table.error(key, expected)
    return host, int(port)


def parse_umask(table: Table) -> int | None:
    """``umask``: octal digits as a string (``"0027"``) or a TOML integer (``0o027``), at most 0777."""
    if "umask" not in table.data:
        return None
    value = table.data["umask"]
    if isinstance(value, str) and re.fullmatch(r"[0-7]{1,4}", value):
        value = int(value, 8)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 0o777:
        raise table.error("umask", f'must be octal digits such as "0027", at most 0777, not {value!r}')
    return value


def parse_component(name: str, table: Table) -> ComponentConfig:
    """One ``[components.NAME]`` table."""
    table.reject_unknown(COMPONENT_KEYS)
    spool_name(table, table.path, name)
    return ComponentConfig(
        name=name,
        spool=spool_name(table, table.where("spool"), table.string("spool", name)),
        handler=table.string("handler"),
        options=dict(table.table("options", {}).data),
        types=table.string_map("types"),
        workers=table.integer("workers", _DEFAULT.workers, minimum=1),
        retry=parse_retry(table.table("retry", {})),
        reply_spool=spool_name(table, table.where("reply_spool"), table.string("reply_spool", None)),
        dropbox=relative_path(table.file, table.string("dropbox", None)),
        poll=table.boolean("poll", _DEFAULT.poll),
        max_size=table.integer("max_size", _DEFAULT.max_size, minimum=1),
        lock_timeout=table.number("lock_timeout", _DEFAULT.lock_timeout, minimum=1),
        tick=parse_tick(table),
        enable=table.boolean("enable", _DEFAULT.enable),
    )


def parse_tick(table: Table) -> float | None:
    """``tick``: seconds between the component's own TICKs, > 0; absent means none."""
    if "tick" not in table.data:
        return None
    seconds = table.number("tick")
    if seconds <= 0:
        raise table.error("tick", f"must be > 0 seconds, not {seconds:g}")
    return seconds


def parse_retry(table: Table) -> RetryPolicy:
    """One ``[components.NAME.retry]`` table; absent keys keep their defaults."""
    table.reject_unknown(RETRY_KEYS)
    return RetryPolicy(
        max_attempts=table.integer("max_attempts", _DEFAULT_RETRY.max_attempts, minimum=1),
        backoff=table.number("backoff", _DEFAULT_RETRY.backoff, minimum=0),
        backoff_factor=table.number("backoff_factor", _DEFAULT_RETRY.backoff_factor, minimum=1),
        max_delay=table.number("max_delay", _DEFAULT_RETRY.max_delay, minimum=0),
    )


def spool_name(table: Table, where: str, name: str | None) -> str | None:
    """``name`` if it can name a spool, else an error at ``where``."""
    if name is None:
        return None
    try:
        return check_spool_name(name)
    except SpoolError as exc:
        raise table.error_at(where, str(exc)) from None


def node_name(table: Table) -> str | None:
    """``node``: this node's name in ``COMPONENT@NODE`` addresses, checked as addresses are."""
    node = table.string("node", None)
    if node is None:
        return None
    try:
        return check_node_name(node)
    except RoutingError as exc:
        raise table.error("node", str(exc)) from None


def relative_path(config_path: str, value: str | None) -> str | None:
    """``value`` made absolute against the directory of the configuration file."""
    if value is None:
        return None
    base = os.path.dirname(os.path.abspath(config_path))
    return os.path.join(base, os.path.expanduser(value))
