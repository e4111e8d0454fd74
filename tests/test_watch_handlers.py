"""Handler lookup (built-in, module:Class, module:function, per-type) and the PanDA adapter."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from spoolq.component import Component
from spoolq.config import ComponentConfig
from spoolq.errors import HandlerError, HandlerNotFound
from spoolq.handlers.echo import EchoHandler
from spoolq.handlers.registry import FunctionHandler, HandlerTable, load_handler
from spoolq.message import Message
from spoolq.spool import SpoolRoot
from tests.waiting import wait_until

PLUGIN = '''
class ShoutPlugin:
    """Written for the PanDA interface: no spoolq import at all."""

    def __init__(self, **params):
        self.params = params
        self.state = []

    def initialize(self):
        self.state.append("initialized")

    def process(self, msg_obj):
        return {"shout": msg_obj.data.upper(), "id": msg_obj.msg_id, "from": msg_obj.sub_id,
                "suffix": self.params["suffix"], "state": self.state}

    def terminate(self):
        pass
'''


def test_builtin_module_class_and_function_lookup():
    assert isinstance(load_handler("echo"), EchoHandler)
    assert isinstance(load_handler("spoolq.handlers.echo:EchoHandler"), EchoHandler)
    function = load_handler("tests.watch_handlers:record", {"record": "x"})
    assert isinstance(function, FunctionHandler) and function.options == {"record": "x"}
    with pytest.raises(HandlerNotFound, match="is not a spoolq Handler"):
        load_handler("pathlib:Path")


def test_types_are_bound_semsg_style_with_the_default_for_the_rest():
    table = HandlerTable("noop", {"CACHE_WRITTEN": "tests.watch_handlers:cache_written"}, {})
    assert table.lookup(Message.new("CACHE_WRITTEN")).name.endswith("cache_written")
    assert table.lookup(Message.new("OTHER")).name == "noop"
    assert HandlerTable("", {"A": "echo"}, {}).lookup(Message.new("B")) is None


def test_panda_plugin_runs_unchanged_and_its_result_goes_to_out_queue(
    root_dir: Path, tmp_path: Path, monkeypatch
):
    (tmp_path / "shout_plugin.py").write_text(textwrap.dedent(PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    root = SpoolRoot(root_dir, granularity=1)
    options = {"module": "shout_plugin", "name": "ShoutPlugin", "params": {"suffix": "!"}, "out_queue": "out"}
    config = ComponentConfig(name="idds", spool="idds", handler="panda", options=options)
    component = Component(config, root)
    component.start()
    try:
        assert component.ready.wait(10)
        request = Message.new("EVENT", "hello")
        root.spool("idds").put(request)
        out = root.spool("out")
        wait_until(lambda: out.count() == 1, what="the plugin's result in out_queue")
        result = out.get(next(out.names())).json()
        assert result == {
            "shout": "HELLO",
            "id": request.message_id,
            "from": "idds",
            "suffix": "!",
            "state": ["initialized"],
        }
    finally:
        component.drain()
        assert component.join(10)
    sys.modules.pop("shout_plugin", None)


def test_handler_setup_failure_is_one_clear_error(root_dir: Path, tmp_path: Path, monkeypatch):
    (tmp_path / "broken_plugin.py").write_text(
        "class Broken:\n    def initialize(self):\n        raise RuntimeError('no database')\n"
        "    def process(self, msg):\n        return None\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    config = ComponentConfig(
        name="p", spool="p", handler="panda", options={"module": "broken_plugin", "name": "Broken"}
    )
    component = Component(config, SpoolRoot(root_dir))
    with pytest.raises(HandlerError, match="handler setup failed: RuntimeError\\('no database'\\)"):
        component.start()
    assert component.join(1)
    sys.modules.pop("broken_plugin", None)
