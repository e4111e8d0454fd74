"""``spoolq stats --prom``: spool figures and the components' metric files as one Prometheus text.

Per spool (from :meth:`Spool.stats`, read at the moment of the call):

- ``spoolq_spool_messages{spool,state="ready"|"locked"}``  elements waiting / being handled
- ``spoolq_spool_bytes{spool}``                           bytes of all elements
- ``spoolq_spool_oldest_age_seconds{spool}``              age of the oldest element (0 when empty)
- ``spoolq_parked_messages{spool}``                       messages parked from the spool

and then every ``*.prom`` file the components and shippers write (``ROOT/.metrics`` unless
``metrics_dir`` says otherwise), merged so that each metric family appears
once with one ``# HELP`` / ``# TYPE`` even when several components report it.
A file that is not valid text format is skipped with a comment, not fatal.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from spoolq.metrics.file import METRICS_DIR
from spoolq.spool import SpoolRoot

_SAMPLE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(\s+-?\d+)?")
_META = re.compile(r"# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*)(?: (.*))?")
_SUFFIXES = ("", "_total", "_created", "_bucket", "_sum", "_count", "_info")


@dataclass
class Family:
    """One metric family: its help, its type, and its sample lines."""

    name: str
    help: str = ""
    type: str = "untyped"
    samples: list[str] = field(default_factory=list)

    def owns(self, sample_name: str) -> bool:
        return any(sample_name == self.name + suffix for suffix in _SUFFIXES)


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def spool_families(root: SpoolRoot, names: Sequence[str] = ()) -> list[Family]:
    """The figures of the spools ``names`` (default: every spool) and their parked areas."""
    messages = Family("spoolq_spool_messages", "Messages in the spool, by state.", "gauge")
    size = Family("spoolq_spool_bytes", "Bytes of the messages in the spool.", "gauge")
    oldest = Family("spoolq_spool_oldest_age_seconds", "Age of the oldest message in the spool.", "gauge")
    parked = Family("spoolq_parked_messages", "Messages parked from the spool.", "gauge")
    for name in names or root.spool_names():
        stats = root.spool(name, create=False).stats()
        label = f'spool="{escape_label(name)}"'
        messages.samples.append(f'spoolq_spool_messages{{{label},state="ready"}} {stats.ready}')
        messages.samples.append(f'spoolq_spool_messages{{{label},state="locked"}} {stats.locked}')
        size.samples.append(f"spoolq_spool_bytes{{{label}}} {stats.bytes}")
        oldest.samples.append(f"spoolq_spool_oldest_age_seconds{{{label}}} {stats.oldest_age or 0:.3f}")
    for name in root.parked_names():
        if names and name not in names:
            continue
        count = root.parked(name, create=False).count()
        parked.samples.append(f'spoolq_parked_messages{{spool="{escape_label(name)}"}} {count}')
    return [messages, size, oldest, parked]


def parse_text(text: str) -> list[Family]:
    """Families of one text-format file; :class:`ValueError` on a line that is not the format."""
    families: list[Family] = []
    current: Family | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        meta = _META.fullmatch(line)
        if meta:
            kind, name, rest = meta.groups()
            if current is None or current.name != name:
                current = Family(name)
                families.append(current)
            if kind == "HELP":
                current.help = rest or ""
            else:
                current.type = (rest or "untyped").strip()
            continue
        if line.startswith("#"):
            continue  # a plain comment
        sample = _SAMPLE.fullmatch(line.strip())
        if not sample:
            raise ValueError(f"line {number} is not a sample: {line!r}")
        if current is None or not current.owns(sample.group(1)):
            current = Family(sample.group(1))
            families.append(current)
        current.samples.append(line.strip())
    return families


def component_families(directory: str) -> tuple[list[Family], list[str]]:
    """Families of every ``*.prom`` file in ``directory``, and comments for unreadable ones."""
    families: list[Family] = []
    problems: list[str] = []
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".prom"))
    except FileNotFoundError:
        return [], []
    for name in names:
        try:
            with open(os.path.join(directory, name), encoding="utf-8") as handle:
                families.extend(parse_text(handle.read()))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            problems.append(f"# skipped {name}: {exc}")
    return families, problems


def merge(families: list[Family]) -> list[Family]:
    """One family per name, samples in order of appearance (duplicate HELP/TYPE dropped)."""
    merged: dict[str, Family] = {}
    for family in families:
        into = merged.setdefault(family.name, Family(family.name, family.help, family.type))
        into.samples.extend(family.samples)
    return list(merged.values())


def render(families: list[Family]) -> str:
    lines: list[str] = []
    for family in families:
        if family.help:
            lines.append(f"# HELP {family.name} {family.help}")
        lines.append(f"# TYPE {family.name} {family.type}")
        lines.extend(family.samples)
    return "\n".join(lines) + "\n"


def prometheus_stats(root: SpoolRoot, metrics_dir: str | None = None, names: Sequence[str] = ()) -> str:
    """The whole ``spoolq stats --prom`` text (spools ``names``, default all)."""
    directory = metrics_dir or os.path.join(root.path, METRICS_DIR)
    families, problems = component_families(directory)
    text = render(merge(spool_families(root, names) + families))
    return text + "".join(p + "\n" for p in problems)
