"""What ``spoolq run`` runs: one child process per enabled component and shipper.

:func:`planned_children` turns a loaded configuration into :class:`ChildSpec`
records.  The supervisor compares them between reloads: a child whose
``settings`` changed is restarted, one that disappeared is stopped.  The
settings of a shipper include its destination and broker tables, so that a
new host list or passcode restarts the shippers that use that broker.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from spoolq.config import Config
from spoolq.shippers.config import shipping_of

COMPONENT = "component"
SHIPPER = "shipper"


@dataclass(frozen=True)
class ChildSpec:
    """One supervised child: a component or a shipper, and the settings it starts with."""

    family: str  # COMPONENT or SHIPPER
    name: str
    settings: Any  # compared on reload (frozen dataclasses); a change restarts the child

    @property
    def key(self) -> str:
        """Unique across families, and how the log names it: ``component pe``, ``shipper out``."""
        return f"{self.family} {self.name}"


def planned_children(config: Config) -> list[ChildSpec]:
    """Every enabled component and shipper of ``config``; :class:`ConfigError` if a shipper table is bad."""
    children = [ChildSpec(COMPONENT, c.name, c) for c in config.enabled_components()]
    shipping = shipping_of(config)
    for shipper in shipping.enabled_shippers():
        destination = shipping.destinations[shipper.destination]
        broker = shipping.brokers[destination.broker]
        children.append(ChildSpec(SHIPPER, shipper.name, (shipper, destination, broker)))
    return children


def counted(specs: Iterable[ChildSpec]) -> str:
    """``1 component``, ``2 components and 1 shipper``: the log's and systemd's wording."""
    families = [spec.family for spec in specs]
    shippers = families.count(SHIPPER)
    text = _number_of(len(families) - shippers, "component")
    return f"{text} and {_number_of(shippers, 'shipper')}" if shippers else text


def _number_of(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def shared_settings(config: Config) -> tuple:
    """The settings every child reads: a change restarts them all."""
    return (
        *(config.root, config.node, config.durable, config.granularity),
        *(config.metrics_dir, config.metrics_interval),
    )
