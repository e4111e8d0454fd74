"""Typed reading of one table of a configuration file, with errors that say where.

Every error names the file, the key path (``components.pe.workers``) and what
is wrong, so that an operator can fix the file without reading code.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from spoolq.errors import ConfigError

_MISSING = object()


class Table:
    """A dict from the file, its path in the file, and checked getters."""

    def __init__(self, file: str, path: str, data: Any):
        self.file = file
        self.path = path
        if not isinstance(data, dict):
            raise self.error_at(path, "must be a table")
        self.data: dict[str, Any] = data

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error_at(self, where: str, what: str) -> ConfigError:
        return ConfigError(f"{self.file}: {where or 'top level'}: {what}")

    def error(self, key: str, what: str) -> ConfigError:
        return self.error_at(self.where(key), what)

    def reject_unknown(self, allowed: Iterable[str]) -> None:
        """Fail on the first key not in ``allowed`` (a typo must not pass silently)."""
        allowed = set(allowed)
        for key in self.data:
            if key not in allowed:
                raise self.error(key, f"unknown key (known: {', '.join(sorted(allowed))})")

    def _get(self, key: str, default: Any) -> Any:
        value = self.data.get(key, _MISSING)
        if value is _MISSING:
            if default is _MISSING:
                raise self.error(key, "is required")
            return default
        return value

    def string(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if value is not default and (not isinstance(value, str) or not value):
            raise self.error(key, f"must be a non-empty string, not {value!r}")
        if value is not default and "\x00" in value:  # no name or path holds one; os calls refuse it
            raise self.error(key, f"must not hold a NUL character: {value!r}")
        return value

    def boolean(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"must be true or false, not {value!r}")
        return value

    def integer(self, key: str, default: Any = _MISSING, minimum: int | None = None) -> Any:
        value = self._get(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(key, f"must be a whole number, not {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be >= {minimum}, not {value}")
        return value

    def number(self, key: str, default: Any = _MISSING, minimum: float | None = None) -> Any:
        value = self._get(key, default)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise self.error(key, f"must be a number, not {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be >= {minimum}, not {value}")
        return float(value)

    def file_path(self, key: str, default: str | None = None) -> str | None:
        """A file name; a relative one is taken relative to the configuration file.

        ``~`` is expanded, so the result does not depend on the working directory.
        """
        value = self.string(key, default)
        if value is None:
            return None
        base = os.path.dirname(os.path.abspath(self.file))
        return os.path.join(base, os.path.expanduser(value))

    def strings(self, key: str, default: Any = _MISSING) -> Any:
        """A non-empty list of non-empty strings (a default is returned as given)."""
        value = self._get(key, default)
        if value is default:
            return value
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise self.error(key, f"must be a non-empty list of strings, not {value!r}")
        return value

    def choice(self, key: str, choices: Iterable[str], default: Any = _MISSING) -> Any:
        """One of ``choices`` (a closed set, such as an acknowledgement mode)."""
        choices = tuple(choices)
        value = self._get(key, default)
        if value not in choices:
            raise self.error(key, f"must be one of {', '.join(choices)}, not {value!r}")
        return value

    def table(self, key: str, default: Any = _MISSING) -> Table:
        return Table(self.file, self.where(key), self._get(key, default))

    def tables(self, key: str) -> dict[str, Table]:
        """``[key.NAME]`` sub-tables by name (an absent key gives none)."""
        outer = self.table(key, {})
        return {name: outer.table(name) for name in outer.data}

    def string_map(self, key: str) -> dict[str, str]:
        """A table whose every value is a non-empty string."""
        inner = self.table(key, {})
        return {name: inner.string(name) for name in inner.data}
