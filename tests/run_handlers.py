"""Handlers used by the ``spoolq run`` tests (imported by the components as tests.run_handlers:NAME)."""

from __future__ import annotations

import time

from spoolq.handlers.base import Context, Handler
from spoolq.message import Message


def tagged(message: Message, context: Context) -> Message:
    """Answer ``BODY by COMPONENT``; a body ``sleep N`` first takes N seconds (a long handler)."""
    body = message.body if isinstance(message.body, str) else message.body.decode()
    if body.startswith("sleep "):
        time.sleep(float(body.split()[1]))
    return message.reply(None, f"{body} by {context.component}")


class PandaUpper:
    """A PanDA/JEDI-style processor plugin: initialize(), process(msg_obj), terminate()."""

    def __init__(self, **params):
        self.params = params
        self.initialized = False

    def initialize(self) -> None:
        self.initialized = True

    def process(self, msg_obj) -> dict:
        data = msg_obj.data if isinstance(msg_obj.data, str) else msg_obj.data.decode()
        return {"upper": data.upper(), "initialized": self.initialized, "params": self.params}

    def terminate(self) -> None:
        pass


class NeedsDatabase(Handler):
    """A handler whose constructor fails, as one that reads a missing option would."""

    def __init__(self, options=None):
        super().__init__(options)
        raise RuntimeError(f"option database is required, got {sorted(self.options)}")
