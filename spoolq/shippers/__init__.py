"""Shippers: relaying spools through a STOMP broker between nodes.

:class:`~spoolq.shippers.base.Shipper` is the one plugin shape;
:class:`~spoolq.shippers.stomp.StompShipper` (``kind = "ship"``)
sends an outgoing spool, :class:`~spoolq.shippers.receiver.StompReceiver`
(``kind = "receive"``) writes what arrives into local spools.
:func:`build_shipper` makes the one a ``[shippers.NAME]`` table describes, of
the kind its ``kind`` names (:mod:`spoolq.shippers.registry`).

``Shipper`` and ``ShippingConfig`` are loaded when first asked for (a module
``__getattr__``, PEP 562), not when the package is: ``spoolq stats`` and
``spoolq find`` read this package's light modules (``status``, ``sent_log``,
``recent_ids``) and must not pay for the STOMP client, the X.509 parser and
prometheus_client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from spoolq.shippers.base import Shipper
    from spoolq.shippers.config import ShippingConfig
    from spoolq.spool import SpoolRoot

__all__ = ["Shipper", "ShippingConfig", "build_shipper"]


def __getattr__(name: str) -> object:
    if name == "Shipper":
        from spoolq.shippers.base import Shipper

        return Shipper
    if name == "ShippingConfig":
        from spoolq.shippers.config import ShippingConfig

        return ShippingConfig
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def build_shipper(
    root: SpoolRoot,
    shipping: ShippingConfig,
    name: str,
    *,
    outgoing: str = "outgoing",
    metrics_dir: str | None = None,
    metrics_interval: float = 10.0,
) -> Shipper:
    """The shipper configured as ``[shippers.NAME]``, ready to :meth:`~Shipper.run`.

    Its ``kind`` is looked up in :mod:`spoolq.shippers.registry`.  Its metrics
    file goes to ``metrics_dir`` (default ``ROOT/.metrics``) every
    ``metrics_interval`` seconds, as the components' files do.
    """
    from spoolq.shippers.registry import shipper_class

    config = shipping.shipper(name)
    return shipper_class(config.kind).from_config(
        root, shipping, config, outgoing=outgoing, metrics_dir=metrics_dir, metrics_interval=metrics_interval
    )
