"""``spoolq run`` on a PanDA/JEDI processor JSON file: queues as spools, processors as components."""

from __future__ import annotations

import json
import signal

import pytest

from spoolq.testbed.shipping import consuming, declare_queues, publish, unique
from tests.run_helpers import running

pytestmark = pytest.mark.timeout(120)

PANDA_CONFIG = {
    "mb_servers": {},
    "queues": {"jedi_in": {}, "jedi_out": {}},  # no server: local spools, no broker
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


def test_processors_in_and_out_queues_move_through_the_broker(broker, tmp_path):
    """``in_queue`` is fed from its destination, what the plugin returns is shipped to ``out_queue``'s."""
    in_name, out_name = unique("jedi_in"), unique("jedi_out")
    config = {
        **PANDA_CONFIG,
        "mb_servers": {
            "internal_mb": {
                "host_port_list": [f"127.0.0.1:{broker.stomp_port}"],
                "username": broker.user,
                "passcode": broker.passcode,
                "vhost": "/",
                "send_heartbeat_ms": 15000,
            }
        },
        "queues": {
            "jedi_in": {"server": "internal_mb", "destination": f"/queue/{in_name}", "ack_mode": "client"},
            "jedi_out": {"server": "internal_mb", "destination": f"/queue/{out_name}"},
        },
    }
    path = tmp_path / "jedi_msg_proc.json"
    path.write_text(json.dumps(config))
    declare_queues(broker, in_name, out_name)
    requests = [f"request {n} Zürich" for n in range(20)] + ['{"body": "a PanDA message", "tag": 1}']
    with consuming(broker, f"/queue/{out_name}") as replies, running(tmp_path) as start:
        run = start(config=path)
        run.wait_for_log("all 1 component and 2 shippers ready")
        publish(broker, f"/queue/{in_name}", [(text.encode(), {}) for text in requests])
        frames = replies.wait_for(len(requests), timeout=60)
        run.signal(signal.SIGTERM)
        assert run.wait() == 0
    got = sorted(json.loads(body)["upper"] for _headers, body in frames)
    assert got == sorted(text.upper() for text in requests)  # each request once, its body as sent
