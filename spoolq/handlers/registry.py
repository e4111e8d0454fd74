"""Finding handlers: built-in short names, ``module:Class``, ``module:function``, entry points.

Lookup order for a name (:func:`spoolq.plugins.find`): a built-in short name
(:data:`BUILTINS`), then ``module:attr``, then an entry point of the group
``spoolq.handlers`` (how an installed package, or an application such as the
Enstore reference, offers its handlers by short name).  The object found may
be a :class:`Handler` subclass (instantiated with the options) or a plain
function ``f(message, context)`` (wrapped in a :class:`FunctionHandler`).
A :class:`HandlerTable` binds message types to handlers, SEMsg style
(``{"CACHE_WRITTEN": "pkg.mod:func"}``), with the component's own handler for
every other type.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from spoolq.errors import ConfigError, HandlerError, HandlerNotFound, SpoolqError
from spoolq.handlers.base import Context, Handler
from spoolq.message import Message
from spoolq.plugins import Family, find

if TYPE_CHECKING:
    from spoolq.config import ComponentConfig

BUILTINS = {
    "echo": "spoolq.handlers.echo:EchoHandler",
    "noop": "spoolq.handlers.echo:NoopHandler",
    "command": "spoolq.handlers.command:CommandHandler",
    "panda": "spoolq.handlers.panda:PandaPluginHandler",
}

#: The handler family: its built-ins and its entry-point group.
HANDLERS = Family("handler", "spoolq.handlers", BUILTINS, HandlerNotFound)

HandlerFunction = Callable[[Message, Context], None | Message | Iterable[Message]]


class FunctionHandler(Handler):
    """A plain function ``f(message, context)`` as a handler."""

    def __init__(self, function: HandlerFunction, options: Mapping[str, Any] | None = None):
        super().__init__(options)
        self.function = function
        self.name = f"{function.__module__}:{function.__qualname__}"

    def handle(self, message: Message, context: Context) -> None | Message | Iterable[Message]:
        return self.function(message, context)


def load_handler(spec: str, options: Mapping[str, Any] | None = None) -> Handler:
    """A ready-to-set-up handler instance for ``spec``."""
    target = find(HANDLERS, spec)
    if inspect.isclass(target):
        if not issubclass(target, Handler):
            raise HandlerNotFound(
                f"handler {spec!r}: class {target.__name__} is not a spoolq Handler; "
                "for a PanDA processor plugin use handler 'panda' with options module and name"
            )
        return target(options)
    if callable(target):
        return FunctionHandler(target, options)
    raise HandlerNotFound(
        f"handler {spec!r}: {type(target).__name__} is neither a Handler class nor a function"
    )


class HandlerTable:
    """The handlers of one component: one per bound message type, and a default.

    ``default`` may be empty: then only the bound types are handled and every
    other message is parked as of an unknown type.  ``where`` starts each
    error message (:func:`component_handlers` puts the file and component
    there).  Loading a handler imports its module and constructs it; its
    ``setup`` runs later, in :meth:`setup`.
    """

    def __init__(self, default: str, types: Mapping[str, str], options: Mapping[str, Any], where: str = ""):
        loaded: dict[str, Handler] = {}  # one instance per distinct spec

        def load(spec: str, bound_to: str) -> Handler:
            if spec not in loaded:
                try:
                    loaded[spec] = load_handler(spec, options)
                except ConfigError as exc:  # HandlerNotFound too: the class is kept
                    raise type(exc)(f"{where}{bound_to}{exc}") from None
                except SpoolqError:
                    raise
                except Exception as exc:  # a plugin's constructor failed: one clear line
                    what = f"handler {spec!r} cannot be constructed: {exc!r}"
                    raise HandlerError(f"{where}{bound_to}{what}") from exc
            return loaded[spec]

        self.default = load(default, "") if default else None
        self.by_type = {kind: load(spec, f"type {kind}: ") for kind, spec in types.items()}
        self.handlers = list(loaded.values())

    def lookup(self, message: Message) -> Handler | None:
        """The handler for ``message``, or ``None`` if its type has none."""
        handler = self.by_type.get(message.type or "")
        return handler if handler is not None else self.default

    def setup(self, context: Context) -> None:
        for handler in self.handlers:
            handler.setup(context)

    def teardown(self) -> None:
        for handler in self.handlers:
            handler.teardown()


def component_handlers(component: ComponentConfig, source: str | None = None) -> HandlerTable:
    """The handler table of a configured component; errors name ``source`` (the file) and the component."""
    where = f"{source}: " if source else ""
    return HandlerTable(
        component.handler, component.types, component.options, where=f"{where}component {component.name}: "
    )
