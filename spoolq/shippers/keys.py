"""Typed reading of one TOML table, with errors that name the file and the key.

A small reader shared by the shipper configuration: ``Table(file, "brokers.main",
data).string("vhost", "/")`` returns the value or raises :class:`ConfigError`
saying ``FILE: key 'brokers.main.vhost' must be ...``.  Unknown keys are
refused too, so that a misspelt option is an error rather than ignored.
"""

from __future__ import annotations

import os
from typing import Any

from spoolq.errors import ConfigError

_MISSING = object()


class Table:
    """One ``[section.name]`` table of a configuration file."""

    def __init__(self, file: str, prefix: str, data: Any):
        self.file = file
        self.prefix = prefix
        if not isinstance(data, dict):
            raise ConfigError(f"{file}: '{prefix}' must be a table")
        self.data = data
        self._seen: set[str] = set()

    def fail(self, key: str, what: str) -> ConfigError:
        return ConfigError(f"{self.file}: key '{self.prefix}.{key}' {what}")

    def _get(self, key: str, default: Any) -> Any:
        self._seen.add(key)
        value = self.data.get(key, default)
        if value is _MISSING:
            raise self.fail(key, "is required")
        return value

    def string(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if value is not None and value is not default and (not isinstance(value, str) or not value):
            raise self.fail(key, "must be a non-empty string")
        return value

    def path(self, key: str, default: Any = None) -> str | None:
        """A file name; relative names are relative to the configuration file."""
        value = self.string(key, default)
        if value is None:
            return None
        return os.path.join(os.path.dirname(os.path.abspath(self.file)), os.path.expanduser(value))

    def number(self, key: str, default: Any = _MISSING, *, minimum: float = 0, whole: bool = False) -> Any:
        value = self._get(key, default)
        kinds = (int,) if whole else (int, float)
        if value is default and value is not _MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, kinds) or value < minimum:
            kind = "a whole number" if whole else "a number"
            raise self.fail(key, f"must be {kind} >= {minimum}")
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    def strings(self, key: str, default: Any = _MISSING) -> list[str]:
        value = self._get(key, default)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, "must be a non-empty list of strings")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self._get(key, default)
        if value not in choices:
            raise self.fail(key, f"must be one of {', '.join(choices)}")
        return value

    def check_unknown(self) -> None:
        """Refuse keys nobody read: most likely a misspelling."""
        unknown = sorted(set(self.data) - self._seen)
        if unknown:
            raise self.fail(unknown[0], "is not a known setting")
