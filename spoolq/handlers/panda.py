"""Running a PanDA/JEDI message processor plugin unchanged.

A PanDA plugin is a class with ``initialize()``, ``process(msg_obj)`` and
``terminate()`` (``pandacommon``'s ``SimpleMsgProcPluginBase``).  Options of
this handler, as in the PanDA JSON configuration of a processor:

``module``, ``name``  the plugin's module and class (required)
``params``            a table given to the plugin: as keyword arguments to its
                      constructor when it takes them, and as ``plugin.params``
``out_queue``         the spool that receives what ``process`` returns

The plugin sees a :class:`PandaMessage` with ``data`` (the body, as text when
it is text), ``msg_id``, ``sub_id`` (the input spool) and ``headers``.  A
return value that is not ``None`` is sent to ``out_queue``: a ``str`` or
``bytes`` as it is, anything else as JSON.  ``initialize`` runs in ``setup``,
``terminate`` in ``teardown``.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from spoolq.errors import ConfigError
from spoolq.handlers.base import Context, Handler
from spoolq.handlers.registry import HANDLERS
from spoolq.message import Message
from spoolq.plugins import import_attribute


@dataclass(frozen=True)
class PandaMessage:
    """The ``msg_obj`` a PanDA plugin's ``process`` receives."""

    data: str | bytes
    msg_id: str | None
    sub_id: str
    headers: Mapping[str, str] = field(default_factory=dict)


class PandaPluginHandler(Handler):
    name = "panda"

    def __init__(self, options: Mapping[str, Any] | None = None):
        super().__init__(options)
        module, class_name = self.options.get("module"), self.options.get("name")
        if not isinstance(module, str) or not isinstance(class_name, str):
            raise ConfigError("handler 'panda': options 'module' and 'name' (the plugin class) are required")
        params = dict(self.options.get("params") or {})
        spec = f"{module}:{class_name}"
        plugin_class = import_attribute(HANDLERS, spec, spec)
        self.plugin = _instantiate(plugin_class, params)
        self.out_queue: str | None = self.options.get("out_queue")

    def setup(self, context: Context) -> None:
        initialize = getattr(self.plugin, "initialize", None)
        if initialize is not None:
            initialize()

    def handle(self, message: Message, context: Context) -> None:
        msg_obj = PandaMessage(message.body, message.message_id, context.spool, dict(message.header))
        result = self.plugin.process(msg_obj)
        if result is None:
            return None
        if not self.out_queue:
            context.log.warning("%s returned a value but no out_queue is configured", self.options["name"])
            return None
        # Message.new sends a str or bytes as it is and anything else as JSON.
        context.emit(self.out_queue, Message.new(None, result, correlation_id=message.message_id))
        return None

    def teardown(self) -> None:
        terminate = getattr(self.plugin, "terminate", None)
        if terminate is not None:
            terminate()


def _instantiate(plugin_class: type, params: dict[str, Any]) -> Any:
    """Build the plugin as the PanDA agent would, then make ``params`` visible."""
    try:
        accepts_keywords = any(
            p.kind is inspect.Parameter.VAR_KEYWORD
            for p in inspect.signature(plugin_class).parameters.values()
        )
    except (TypeError, ValueError):
        accepts_keywords = False
    plugin = plugin_class(**params) if accepts_keywords else plugin_class()
    if getattr(plugin, "params", None) in (None, {}):
        plugin.params = params
    return plugin
