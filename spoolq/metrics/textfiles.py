"""Reading back the ``*.prom`` textfiles that components and shippers write, with the client's parser.

``spoolq stats --prom``, the ``/metrics`` endpoint of ``spoolq run`` and
``spoolq top`` all read the same files.  A file that is not valid text format
(half a file from another writer, a stranger's file) is reported, not fatal:
one bad file must not hide every other figure.
"""

from __future__ import annotations

import os

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families


def read_textfiles(directory: str) -> tuple[list[Metric], list[str]]:
    """Families of every ``*.prom`` file in ``directory``, and one line for each file skipped."""
    families: list[Metric] = []
    problems: list[str] = []
    try:
        names = sorted(n for n in os.listdir(directory) if n.endswith(".prom"))
    except (FileNotFoundError, NotADirectoryError):
        return [], []
    for name in names:
        try:
            with open(os.path.join(directory, name), encoding="utf-8") as handle:
                families.extend(text_string_to_metric_families(handle.read()))
        except FileNotFoundError:
            continue  # removed since listed: nothing to report
        except (OSError, UnicodeDecodeError, ValueError, IndexError, KeyError) as exc:
            problems.append(f"skipped {name}: not Prometheus text format ({exc})")
    return families, problems


def merge(families: list[Metric]) -> tuple[list[Metric], list[str]]:
    """One family per name, samples in the order read; a family typed otherwise elsewhere is dropped.

    Several components report the same families, each with its own labels;
    an exposition must hold each family once.
    """
    merged: dict[str, Metric] = {}
    problems: list[str] = []
    for family in families:
        exposed = exposed_name(family)
        into = merged.get(exposed)
        if into is None:
            into = merged[exposed] = Metric(family.name, family.documentation, family.type)
        elif into.type != family.type or into.name != family.name:
            problems.append(f"skipped {exposed} as a {family.type}: already read as a {into.type}")
            continue
        into.samples.extend(family.samples)
    return list(merged.values()), problems


def exposed_name(family: Metric) -> str:
    """The name ``family`` has in the text format: a counter's ends in ``_total``."""
    return family.name + "_total" if family.type == "counter" else family.name
