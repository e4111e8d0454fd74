"""A PanDA/JEDI message-processor JSON configuration, read as a spoolq configuration.

The mapping (documented in docs/operations.md):

- each entry of ``queues`` names a spool of the same name;
- each entry of ``processors`` becomes a component of the same name serving
  the spool ``in_queue``, with the built-in ``panda`` handler adapter and
  options ``{module, name, params, out_queue}``; ``n_threads`` is ``workers``;
- ``mb_servers`` and the queues on them become brokers, destinations and
  shippers (:mod:`spoolq.config.panda_shipping`): a receiver feeds each
  processor's ``in_queue`` from the broker, a sender ships what it returns
  to its ``out_queue``.

The file has no spool root: give ``--root`` or ``SPOOLQ_ROOT``.
"""

from __future__ import annotations

import json
from typing import Any

from spoolq.config.model import ComponentConfig, Config
from spoolq.config.panda_shipping import broker_table, on_a_broker, outgoing_spool, shipping_tables
from spoolq.config.source import read_bytes
from spoolq.config.table import Table
from spoolq.config.toml_file import spool_name
from spoolq.errors import ConfigError
from spoolq.limits import MAX_DOCUMENT_NESTING, nests_deeper_than

PANDA_HANDLER = "panda"
TOP_KEYS = ("mb_servers", "queues", "processors")
PROCESSOR_KEYS = ("enable", "module", "name", "in_queue", "out_queue", "n_threads", "params", "verbose")


def read_json(path: str, text: bytes | None = None) -> Any:
    """Parse the JSON file at ``path`` (or ``text``: its bytes); errors are :class:`ConfigError`."""
    data = read_bytes(path) if text is None else text
    if nests_deeper_than(data, MAX_DOCUMENT_NESTING):
        raise ConfigError(f"{path}: not valid JSON: nested deeper than {MAX_DOCUMENT_NESTING} levels")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:  # ValueError: JSONDecodeError, an integer too long
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None


def load_panda_config(path: str, text: bytes | None = None) -> Config:
    """Load and validate the PanDA-style JSON file at ``path`` (``text``: its bytes, as read before)."""
    top = Table(path, "", read_json(path, text))
    top.reject_unknown(TOP_KEYS)
    brokers = {name: broker_table(table) for name, table in top.tables("mb_servers").items()}
    queues = {name: parse_queue(name, table, brokers) for name, table in top.tables("queues").items()}
    processors = top.tables("processors")
    components = tuple(parse_processor(name, table, queues) for name, table in processors.items())
    enabled = [(c.spool, processors[c.name].data.get("out_queue")) for c in components if c.enable]
    destinations, shippers = shipping_tables(queues, enabled)
    return Config(
        path=path,
        root=None,
        components=components,
        brokers=brokers,
        destinations=destinations,
        shippers=shippers,
    )


def parse_queue(name: str, table: Table, brokers: dict[str, Any]) -> dict[str, Any]:
    """A queue: a spool named after it, and its broker settings kept raw."""
    spool_name(table, table.path, name)
    server = table.string("server", None)
    if server is not None and server not in brokers:
        raise table.error("server", f"names no entry of mb_servers: {server!r}")
    if server is not None:
        table.string("destination")  # required on a server: where the queue is on the broker
    table.boolean("enable", True)
    return {**table.data, "spool": name}


def parse_processor(name: str, table: Table, queues: dict[str, Any]) -> ComponentConfig:
    """A processor: a component running the plugin class under the ``panda`` adapter."""
    table.reject_unknown(PROCESSOR_KEYS)
    spool_name(table, table.path, name)
    in_queue = known_queue(table, "in_queue", queues, required=True)
    out_queue = known_queue(table, "out_queue", queues, required=False)
    params = table.data.get("params") or {}
    if not isinstance(params, dict):
        raise table.error("params", f"must be an object, not {params!r}")
    out_spool = out_queue
    if out_queue is not None and on_a_broker(queues[out_queue]):
        out_spool = outgoing_spool(out_queue)  # shipped from there to the queue's destination
    options = {
        "module": table.string("module"),
        "name": table.string("name"),
        "params": params,
        "out_queue": out_spool,
    }
    table.boolean("verbose", False)
    return ComponentConfig(
        name=name,
        spool=in_queue,
        handler=PANDA_HANDLER,
        options=options,
        workers=table.integer("n_threads", 1, minimum=1),
        enable=table.boolean("enable", True),
    )


def known_queue(table: Table, key: str, queues: dict[str, Any], required: bool) -> str | None:
    """The queue named by ``key``: it must be one of ``queues``."""
    value = table.data.get(key)
    if value is None:
        if required:
            raise table.error(key, "is required: the queue this processor consumes")
        return None
    value = table.string(key)
    if value not in queues:
        raise table.error(key, f"names no entry of queues: {value!r}")
    return value
