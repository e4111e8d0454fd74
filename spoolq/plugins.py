"""Finding a plugin by name: one lookup for handlers, writers and shipper kinds.

Each family (:class:`Family`) names its noun, its built-in short names and its
entry-point group.  :func:`find` resolves a name in this order:

1. a built-in short name of the family (``echo``, ``ship``);
2. ``module:attr`` (``attr`` may be dotted), imported as it is written;
3. an entry point of the family's group (``spoolq.handlers``, ``spoolq.writers``,
   ``spoolq.shippers``), read with :mod:`importlib.metadata`: a separate,
   pip-installed package declares its plugins there, and the short name it
   chooses works like a built-in one.

Built-ins are ``module:attr`` strings, so a family's table imports nothing
until a name is looked up.  A name nobody knows raises the family's
``not_found`` error, which lists what is known: a configuration typo reads as
one line that says what to write instead.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from spoolq.errors import PluginNotFound


@dataclass(frozen=True)
class Family:
    """One plugin family: what it is called, its built-ins, its entry-point group, its error."""

    noun: str  # "handler", "writer", "shipper kind": starts every error message
    group: str  # the entry-point group, e.g. "spoolq.handlers"
    builtins: Mapping[str, str]  # short name -> "module:attr"
    not_found: type[PluginNotFound] = PluginNotFound


def installed(family: Family) -> dict[str, EntryPoint]:
    """The entry points of ``family``'s group, by name (the first one of a name wins)."""
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=family.group):
        found.setdefault(point.name, point)
    return found


def find(family: Family, name: str) -> Any:
    """The object ``name`` names in ``family``; ``family.not_found`` saying what is known, if none."""
    if name in family.builtins:
        return import_attribute(family, name, family.builtins[name])
    if ":" in name:
        return import_attribute(family, name, name)
    points = installed(family)
    point = points.get(name)
    if point is None:
        builtins = ", ".join(sorted(family.builtins)) or "none"
        others = ", ".join(sorted(points)) or "none"
        raise family.not_found(
            f"{family.noun} {name!r}: not a built-in ({builtins}), not 'module:attr', and not "
            f"an entry point of group {family.group!r} (installed: {others})"
        )
    try:
        return point.load()
    except Exception as exc:  # an installed package that is broken: say which entry point
        raise family.not_found(
            f"{family.noun} {name!r}: entry point {point.value!r} of group {family.group!r} "
            f"cannot be loaded: {exc!r}"
        ) from None


def import_attribute(family: Family, name: str, spec: str) -> Any:
    """The object ``spec`` (``module:attr``) names; ``name`` is what the user wrote."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        builtins = ", ".join(sorted(family.builtins)) or "none"
        raise family.not_found(f"{family.noun} {name!r}: not a built-in ({builtins}) and not 'module:attr'")
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise family.not_found(
            f"{family.noun} {name!r}: cannot import module {module_name!r}: {exc}"
        ) from None
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise family.not_found(
                f"{family.noun} {name!r}: module {module_name!r} has no {attr!r}"
            ) from None
    return target


def find_subclass(family: Family, name: str, base: type) -> type:
    """:func:`find`, for a family whose plugins are subclasses of ``base``: refuses anything else."""
    target = find(family, name)
    if not (inspect.isclass(target) and issubclass(target, base)):
        raise family.not_found(f"{family.noun} {name!r}: {target!r} is not a spoolq {base.__name__} subclass")
    return target
