"""``spoolq run`` on a PanDA/JEDI processor JSON file: queues as spools, processors as components."""

from __future__ import annotations

import json
import signal

import pytest

from tests.run_helpers import running

pytestmark = pytest.mark.timeout(60)

PANDA_CONFIG = {
    "mb_servers": {"internal_mb": {"host_port_list": ["127.0.0.1:61613"]}},
    "queues": {
        "jedi_in": {"server": "internal_mb", "destination": "/queue/jedi_in"},
        "jedi_out": {"server": "internal_mb", "destination": "/queue/jedi_out"},
    },
    "processors": {
        "upper": {
            "enable": True,
            "module": "tests.run_handlers",
            "name": "PandaUpper",
            "in_queue": "jedi_in",
            "out_queue": "jedi_out",
            "n_threads": 2,
            "params": {"flavour": "test"},
        },
        "switched-off": {
            "enable": False,
            "module": "tests.run_handlers",
            "name": "PandaUpper",
            "in_queue": "jedi_out",
        },
    },
}


def test_processor_plugin_runs_unchanged_and_answers_into_out_queue(tmp_path):
    config = tmp_path / "jedi_msg_proc.json"
    config.write_text(json.dumps(PANDA_CONFIG))
    with running(tmp_path) as start:
        run = start(config=config)
        run.wait_for_log("all 1 component ready")
        answer = run.ask("jedi_in", "hello", answers="jedi_out")
        expected = {"upper": "HELLO", "initialized": True, "params": {"flavour": "test"}}
        assert json.loads(answer.body) == expected
        assert "switched-off" not in run.log()
        run.signal(signal.SIGTERM)
        assert run.wait() == 0
