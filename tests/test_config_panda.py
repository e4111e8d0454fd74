"""A PanDA/JEDI processor JSON file read as a spoolq configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spoolq.config import ComponentConfig, load_config
from spoolq.errors import ConfigError
from spoolq.shippers.config import shipping_of

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "panda_msg_proc.json"


def write(tmp_path: Path, data) -> str:
    path = tmp_path / "msg_proc.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def test_example_maps_processors_to_panda_components():
    config = load_config(str(EXAMPLE))
    assert config.root is None
    feeder, status = config.components
    assert feeder == ComponentConfig(
        name="jedi-contents-feeder",
        spool="jedi_contents_feeder",
        handler="panda",
        options={
            "module": "pandajedi.jedimsgprocessor.jedi_contents_feeder_msg_processor",
            "name": "JediContentsFeederMsgProcPlugin",
            "params": {"batch": 10},
            "out_queue": "jedi_job_generator.out",  # shipped from there to the queue on the broker
        },
        workers=2,
    )
    assert status.enable is False and status.workers == 1
    assert status.options["out_queue"] is None and status.options["params"] == {}
    assert config.enabled_components() == (feeder,)


def test_example_maps_servers_and_queues_onto_brokers_destinations_and_shippers():
    config = load_config(str(EXAMPLE))
    assert config.brokers["internal_mb"] == {
        "hosts": ["127.0.0.1:61613"],
        "username": "guest",
        "passcode": "guest",
        "vhost": "/",
        "heartbeat_send_ms": 15000,
        "use_tls": False,
    }
    assert config.destinations["jedi_job_generator"] == {
        "broker": "internal_mb",
        "address": "/queue/jedi_job_generator",
    }
    # The enabled processor's in_queue is received, its out_queue shipped; the disabled one has neither.
    assert config.shippers == {
        "jedi_contents_feeder": {
            "kind": "receive",
            "destination": "jedi_contents_feeder",
            "spool": "jedi_contents_feeder",
        },
        "jedi_job_generator.out": {
            "kind": "ship",
            "destination": "jedi_job_generator",
            "spool": "jedi_job_generator.out",
        },
    }
    shipping = shipping_of(config)
    assert shipping.brokers["internal_mb"].hosts == (("127.0.0.1", 61613),)
    assert shipping.shipper("jedi_contents_feeder").kind == "receive"


def test_a_passcode_from_the_environment_is_read_as_panda_reads_it(tmp_path, monkeypatch):
    data = minimal()
    data["mb_servers"]["mb"].update(username="${PANDA_TEST_USER}", passcode="${PANDA_TEST_PASSCODE}")
    path = write(tmp_path, data)
    monkeypatch.setenv("PANDA_TEST_USER", "jedi")
    monkeypatch.setenv("PANDA_TEST_PASSCODE", "secret")
    broker = shipping_of(load_config(path)).brokers["mb"]
    assert (broker.username, broker.passcode) == ("jedi", "secret")


def test_a_queue_without_a_server_stays_a_local_spool(tmp_path):
    data = minimal(out_queue="local")
    data["queues"]["local"] = {}
    config = load_config(write(tmp_path, data))
    assert config.components[0].options["out_queue"] == "local"
    assert sorted(config.shippers) == ["q"]


def minimal(**processor):
    return {
        "mb_servers": {"mb": {"host_port_list": ["127.0.0.1:61613"]}},
        "queues": {"q": {"server": "mb", "destination": "/queue/q"}},
        "processors": {"p": {"module": "m", "name": "C", "in_queue": "q", **processor}},
    }


@pytest.mark.parametrize(
    ("data", "where", "what"),
    [
        ([], "top level", "must be a table"),
        ({"servers": {}}, "servers", "unknown key"),
        ({"queues": []}, "queues", "must be a table"),
        ({"queues": {"q": {"server": "nowhere"}}}, "queues.q.server", "names no entry of mb_servers"),
        ({"queues": {"bad name": {}}}, "queues.bad name", "not a valid spool name"),
        ({"mb_servers": {"mb": {"hosts": []}}}, "mb_servers.mb.hosts", "unknown key"),
        ({"mb_servers": {"mb": {}}}, "mb_servers.mb.host_port_list", "is required"),
        (
            {"mb_servers": {"mb": {"host_port_list": ["h:1"], "use_ssl": True}}},
            "mb_servers.mb.use_ssl",
            "needs ca_file or ca_path",
        ),
        (
            {"mb_servers": {"mb": {"host_port_list": ["h:1"]}}, "queues": {"q": {"server": "mb"}}},
            "queues.q.destination",
            "is required",
        ),
        (minimal(in_queue=None), "processors.p.in_queue", "is required"),
        (minimal(in_queue="other"), "processors.p.in_queue", "names no entry of queues"),
        (minimal(out_queue="other"), "processors.p.out_queue", "names no entry of queues"),
        (minimal(out_queue=3), "processors.p.out_queue", "non-empty string"),
        (minimal(module=None), "processors.p.module", "non-empty string"),
        (minimal(name=""), "processors.p.name", "non-empty string"),
        (minimal(n_threads=0), "processors.p.n_threads", ">= 1"),
        (minimal(params=[1]), "processors.p.params", "must be an object"),
        (minimal(enable="yes"), "processors.p.enable", "true or false"),
        (minimal(verbose=1), "processors.p.verbose", "true or false"),
        (minimal(threads=2), "processors.p.threads", "unknown key"),
    ],
)
def test_invalid_processor_file_names_key(tmp_path, data, where, what):
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: {where}: "), message
    assert what in message


def test_missing_module_is_required(tmp_path):
    data = minimal()
    del data["processors"]["p"]["module"]
    path = write(tmp_path, data)
    with pytest.raises(ConfigError, match=r"processors\.p\.module: is required"):
        load_config(path)


def test_not_json_names_the_file(tmp_path):
    path = write(tmp_path, "{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_config(path)
