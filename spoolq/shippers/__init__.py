"""Shippers: relaying spools through a STOMP broker between nodes.

:class:`~spoolq.shippers.base.Shipper` is the one plugin shape;
:class:`~spoolq.shippers.stomp_shipper.StompShipper` (``kind = "ship"``)
sends an outgoing spool, :class:`~spoolq.shippers.receiver.StompReceiver`
(``kind = "receive"``) writes what arrives into local spools.
:func:`build_shipper` makes the one a ``[shippers.NAME]`` table describes.
"""

from __future__ import annotations

from spoolq.root import SpoolRoot
from spoolq.shippers.base import Shipper
from spoolq.shippers.config import ShippingConfig


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

    Its metrics file goes to ``metrics_dir`` (default ``ROOT/.metrics``) every
    ``metrics_interval`` seconds, as the components' files do.
    """
    from spoolq.routing import Router
    from spoolq.shippers.receiver import StompReceiver
    from spoolq.shippers.security import Opener, Sealer
    from spoolq.shippers.stomp_shipper import StompShipper

    config = shipping.shipper(name)
    destination = shipping.destinations[config.destination]
    broker = shipping.brokers[destination.broker]
    metrics = {"metrics_dir": metrics_dir, "metrics_interval": metrics_interval}
    if config.kind == "ship":
        sealer = Sealer(config.security, sign=config.sign, encrypt_to=config.encrypt_to)
        return StompShipper(
            root, config, destination, broker, sealer=sealer if sealer.active else None, **metrics
        )
    if "{node}" in destination.address and not shipping.node:
        from spoolq.errors import ConfigError

        raise ConfigError(
            f"{shipping.path}: key 'node' is required: destination {destination.name} uses {{node}}"
        )
    opener = Opener(config.security) if config.verify else None
    router = Router(shipping.node, outgoing)
    return StompReceiver(root, config, destination, broker, router=router, opener=opener, **metrics)
