"""The configuration file: TOML, validated at load with errors naming file and key.

Only the deployment-wide keys live here for now::

    root = "/var/spool/spoolq"   # the spool root (relative paths: to the file)
    durable = true               # fsync every element (default true)
    granularity = 60             # seconds per intermediate directory

Where the file is: ``--config``, then ``SPOOLQ_CONFIG``, then ``./spoolq.toml``,
then ``/etc/spoolq/spoolq.toml``; none at all is fine when ``--root`` or
``SPOOLQ_ROOT`` names the root.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from typing import Any

from spoolq.errors import ConfigError
from spoolq.layout import DEFAULT_GRANULARITY

DEFAULT_LOCATIONS = ("spoolq.toml", "/etc/spoolq/spoolq.toml")


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
    enable: bool = True


@dataclass(frozen=True)
class Config:
    """A loaded, validated configuration."""

    path: str | None
    root: str | None
    durable: bool = True
    granularity: int = DEFAULT_GRANULARITY
    components: tuple[ComponentConfig, ...] = ()


def find_config(explicit: str | None) -> str | None:
    """The configuration file to read, or ``None`` when there is none."""
    if explicit:
        if not os.path.isfile(explicit):
            raise ConfigError(f"{explicit}: configuration file not found")
        return explicit
    for candidate in DEFAULT_LOCATIONS:
        if os.path.isfile(candidate):
            return candidate
    return None


def read_toml(path: str) -> dict[str, Any]:
    """Parse a TOML file, turning every failure into a :class:`ConfigError`."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def load_config(path: str | None) -> Config:
    """Load and validate ``path`` (``None`` gives the empty configuration)."""
    if path is None:
        return Config(path=None, root=None)
    data = read_toml(path)
    root = data.get("root")
    if root is not None:
        if not isinstance(root, str) or not root:
            raise ConfigError(f"{path}: key 'root' must be a non-empty string (a directory)")
        root = os.path.join(os.path.dirname(os.path.abspath(path)), os.path.expanduser(root))
    durable = data.get("durable", True)
    if not isinstance(durable, bool):
        raise ConfigError(f"{path}: key 'durable' must be true or false")
    granularity = data.get("granularity", DEFAULT_GRANULARITY)
    if not isinstance(granularity, int) or isinstance(granularity, bool) or granularity < 1:
        raise ConfigError(f"{path}: key 'granularity' must be a whole number of seconds >= 1")
    return Config(path=path, root=root, durable=durable, granularity=granularity)
