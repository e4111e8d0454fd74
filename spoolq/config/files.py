"""Where the configuration file is, and which format it is read as.

Where: ``--config``, then ``SPOOLQ_CONFIG``, then ``./spoolq.toml``, then
``/etc/spoolq/spoolq.toml``; none at all is fine when ``--root`` or
``SPOOLQ_ROOT`` names the root.  Format: a file ending in ``.json`` is a
PanDA/JEDI processor configuration, anything else is TOML.
"""

from __future__ import annotations

import dataclasses
import os

from spoolq.config.model import Config
from spoolq.config.panda import load_panda_config
from spoolq.config.source import read_bytes
from spoolq.config.toml_file import load_toml_config
from spoolq.errors import ConfigError

DEFAULT_LOCATIONS = ("spoolq.toml", "/etc/spoolq/spoolq.toml")


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


def load_config(path: str | None, text: bytes | None = None) -> Config:
    """Load and validate ``path`` (``None`` gives the empty configuration).

    ``text``: the file's bytes as read before (spoolq.config.source); the file
    itself is then not read, but relative paths and errors still refer to it.
    """
    if path is None:
        return Config(path=None, root=None)
    if text is None:
        text = read_bytes(path)
    config = load_panda_config(path, text) if path.endswith(".json") else load_toml_config(path, text)
    return dataclasses.replace(config, source=text)
