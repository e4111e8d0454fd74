"""Writing a configuration back as TOML text, for ``spoolq config from-ssm``.

Python reads TOML (``tomllib``) but does not write it.  The tables a
converted configuration holds are small and plain (strings, booleans,
numbers, lists of strings, nested tables), so this writes just that;
anything else is a programming error, not silently dropped.  Strings are
written as JSON strings, whose escapes are all valid TOML basic-string escapes.
"""

from __future__ import annotations

import json
import re
from typing import Any

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def dumps(document: dict[str, Any]) -> str:
    """TOML text for ``document``: its plain keys first, then each table, nested tables as ``[a.b]``."""
    lines: list[str] = []
    _table(lines, (), document)
    return "\n".join(lines).lstrip("\n") + "\n"


def _table(lines: list[str], path: tuple[str, ...], table: dict[str, Any]) -> None:
    plain = {k: v for k, v in table.items() if not isinstance(v, dict)}
    if path and (plain or not table):
        lines.append("")
        lines.append("[" + ".".join(_key(k) for k in path) + "]")
    for key, value in plain.items():
        lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in table.items():
        if isinstance(value, dict):
            _table(lines, (*path, key), value)


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _string(text: str) -> str:
    """A TOML basic string: JSON's escapes, and DEL (which JSON leaves raw, TOML refuses) escaped."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML: {value!r}")
