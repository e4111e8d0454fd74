"""The records a loaded configuration is made of: plain frozen dataclasses.

They carry no parsing logic: :mod:`spoolq.config.toml_file` and
:mod:`spoolq.config.panda` build them from the two accepted file formats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from spoolq.spool.layout import DEFAULT_GRANULARITY


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failed message is tried again."""

    max_attempts: int = 5  # attempts in all, the first included; then park
    backoff: float = 1.0  # seconds before the second attempt
    backoff_factor: float = 2.0  # each further wait is this much longer
    max_delay: float = 300.0  # no wait is longer than this


@dataclass(frozen=True)
class ComponentConfig:
    """One component: the spool it serves and the handler that serves it."""

    name: str
    spool: str  # input spool name (defaults to the component name)
    handler: str  # built-in short name, "module:Class" or "module:function"
    options: dict[str, Any] = field(default_factory=dict)  # the handler's own settings
    types: dict[str, str] = field(default_factory=dict)  # message type -> "module:function"
    workers: int = 1
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    reply_spool: str | None = None  # default: "<name>_reply"
    dropbox: str | None = None  # a plain directory whose files are adopted into the spool
    poll: bool = False  # poll instead of inotify (NFS)
    max_size: int = 64 * 1024 * 1024  # bytes; larger elements are parked
    lock_timeout: float = 600.0  # a lock older than this is stale
    tick: float | None = None  # seconds between TICKs put into the spool (None: no ticks)
    enable: bool = True


@dataclass(frozen=True)
class Config:
    """A loaded, validated configuration.

    ``brokers``, ``destinations``, ``shippers`` and ``security`` are kept as the
    raw tables of the file: spoolq.shippers.config validates their contents.
    """

    path: str | None
    root: str | None
    node: str | None = None  # this node's name in COMPONENT@NODE addresses
    durable: bool = True
    granularity: int = DEFAULT_GRANULARITY
    components: tuple[ComponentConfig, ...] = ()
    metrics_dir: str | None = None  # default: ROOT/.metrics
    metrics_interval: float = 10.0  # seconds between rewrites of a component's metrics file
    metrics_listen: tuple[str, int] | None = None  # (host, port) of `spoolq run`'s /metrics; None: off
    umask: int | None = None  # applied by the daemons at start (None: keep the process's)
    security: dict[str, Any] = field(default_factory=dict)  # [security], raw (shippers)
    brokers: dict[str, dict[str, Any]] = field(default_factory=dict)
    destinations: dict[str, dict[str, Any]] = field(default_factory=dict)
    shippers: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The bytes the file held when it was loaded (``spoolq run`` hands them to its children).
    source: bytes | None = field(default=None, repr=False, compare=False)

    def component(self, name: str) -> ComponentConfig | None:
        """The component called ``name``, or ``None``."""
        return next((c for c in self.components if c.name == name), None)

    def enabled_components(self) -> tuple[ComponentConfig, ...]:
        return tuple(c for c in self.components if c.enable)
