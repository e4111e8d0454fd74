"""spoolq and PanDA's own message processors (panda-common 0.1.11) through RabbitMQ, both ways.

panda-common is installed from the package index once per pytest run into
a virtual environment of its own (tests/panda_peer/run_processors.py runs
``MsgProcAgentBase(config).start()`` there, with the plugins of
tests/panda_peer/recorder.py).  Where the index cannot be reached the tests
skip with that reason; CI reaches it, and there such a skip fails the run.

Two things on PanDA's side shape the set-up (docs/operations.md says so too):
on RabbitMQ its listener subscribes to ``/amq/queue/NAME``, which fails until
the queue exists, and its sender sends with neither ``persistent`` nor
``receipt``, so a reply sent before its queue exists is dropped.  Every queue
is therefore declared before PanDA's processors start.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from spoolq.message import Message
from spoolq.testbed.shipping import declare_queues, root_of, running, unique, write_node_config
from tests.run_helpers import running as running_spoolq
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(600)

PANDA_COMMON = "panda-common==0.1.11"
PEER = Path(__file__).resolve().parent / "panda_peer"
#: What pip says when it cannot reach the index (any other failure fails the tests).
UNREACHABLE = (
    "Could not fetch URL", "NewConnectionError", "Temporary failure in name resolution",
    "Network is unreachable", "No matching distribution found", "Connection refused", "timed out",
)  # fmt: skip
LOGGER_CONFIG = """[logger]
loghost=127.0.0.1
monport-apache=80
method=GET
encoding=url
loghost_new=127.0.0.1
monport-apache_new=80
method_new=POST
encoding_new=json
monurlprefix=/logger
logdir={logdir}
nemitters=1
log_level=INFO
rotating_policy=none
"""


@pytest.fixture(scope="session")
def panda_python(tmp_path_factory) -> Path:
    """The Python of a virtual environment holding panda-common from the package index."""
    home = tmp_path_factory.mktemp("panda-common")
    venv = home / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", PANDA_COMMON]
    try:
        result = subprocess.run(pip, capture_output=True, text=True, timeout=600)
    except subprocess.TimeoutExpired:
        pytest.skip(f"the package index could not be reached: pip install {PANDA_COMMON} timed out")
    if result.returncode != 0:
        words = result.stderr[-500:]
        if any(sign in result.stderr for sign in UNREACHABLE):
            pytest.skip(f"the package index could not be reached: pip install {PANDA_COMMON}: {words}")
        pytest.fail(f"pip install {PANDA_COMMON} failed: {words}")
    return venv / "bin" / "python"


class PandaProcessors:
    """PanDA's real message processors in one process, on a JSON configuration; stopped on exit."""

    def __init__(self, python: Path, directory: Path, config: dict):
        self.directory = directory
        (directory / "etc" / "panda").mkdir(parents=True)
        (directory / "log").mkdir()
        logger_config = LOGGER_CONFIG.format(logdir=directory / "log")
        (directory / "etc" / "panda" / "panda_common.cfg").write_text(logger_config)
        self.config = directory / "msg_proc.json"
        self.config.write_text(json.dumps(config))
        self.ready = directory / "ready"
        self.output = open(directory / "panda.out", "wb")  # noqa: SIM115  (closed in stop)
        env = {**os.environ, "PANDA_HOME": str(directory), "PYTHONPATH": str(PEER)}
        self.process = subprocess.Popen(
            [str(python), str(PEER / "run_processors.py"), str(self.config), str(self.ready)],
            cwd=directory,
            env=env,
            stdout=self.output,
            stderr=subprocess.STDOUT,
        )
        started = lambda: self.ready.exists() or self.process.poll() is not None  # noqa: E731
        wait_until(started, 120, "PanDA's message processors to start")
        assert self.process.poll() is None, self.log()

    def log(self) -> str:
        return (self.directory / "panda.out").read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.output.close()


def panda_config(broker, queues: dict[str, str], processors: dict) -> dict:
    """A configuration in the shape of PanDA's documentation, on the tests' RabbitMQ."""
    server = {
        "host_port_list": [f"127.0.0.1:{broker.stomp_port}"],
        "use_ssl": False,
        "username": broker.user,
        "passcode": broker.passcode,
        "send_heartbeat_ms": 15000,
        "vhost": "/",
        "verbose": False,
    }
    return {
        "mb_servers": {"internal_mb": server},
        "queues": {name: {"server": "internal_mb", "destination": to} for name, to in queues.items()},
        "processors": processors,
    }


def fixed_destination_config(directory: Path, broker, address: str) -> Path:
    """A spoolq node whose shipper ``out`` sends every element of ``outgoing`` to ``address``."""
    directory.mkdir(parents=True)
    path = directory / "spoolq.toml"
    path.write_text(
        f'''root = "root"
[brokers.main]
hosts = ["127.0.0.1:{broker.stomp_port}"]
username = "{broker.user}"
passcode = "{broker.passcode}"
[destinations.panda]
broker = "main"
address = "{address}"
[shippers.out]
kind = "ship"
destination = "panda"
spool = "outgoing"
backoff_max = 1
'''
    )
    return path


def recorded(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def lost_and_doubled(sent: list, got: list) -> tuple[int, int]:
    wanted, have = Counter(sent), Counter(got)
    return sum((wanted - have).values()), sum((have - wanted).values())


def bodies(kind: str, count: int) -> list[str]:
    texts = [f'{kind} {n}: Zürich, Ελλάδα, 東京 ✓ {{"body": {n}}}\n' for n in range(count)]
    return texts + [f"{kind} big " + "x" * (256 * 1024), ""]


def test_spoolq_ship_and_receive_against_pandas_message_processor(panda_python, broker, tmp_path):
    """spoolq-put and raw messages reach PanDA's plugin as their body; its replies come back as they came."""
    to_panda, from_panda = unique("to-panda"), unique("from-panda")
    declare_queues(broker, f"spoolq-test.{to_panda}", f"spoolq-test.{from_panda}")
    record = tmp_path / "record.jsonl"
    config = panda_config(
        broker,
        {"to_panda": f"/queue/spoolq-test.{to_panda}", "from_panda": f"/queue/spoolq-test.{from_panda}"},
        {
            "recorder": {
                "enable": True,
                "module": "recorder",
                "name": "Recorder",
                "in_queue": "to_panda",
                "out_queue": "from_panda",
                "params": {"record": str(record), "reply": True},
            }
        },
    )
    panda = PandaProcessors(panda_python, tmp_path / "panda", config)
    try:
        node = write_node_config(tmp_path / "spoolq", from_panda, broker)
        outgoing = root_of(node).spool("outgoing")
        # A raw element that is a valid envelope is read as one (the spool's own rule): only a
        # spoolq-put message can carry an envelope-shaped body.
        enveloped = [*bodies("put", 100), json.dumps({"header": {"type": "T"}, "body": "put"})]
        raw = bodies("raw", 100)
        outgoing.put_many(Message.new("T", body, to=f"jedi@{to_panda}") for body in enveloped)
        # A raw element has no header to route by: this shipper's destination is PanDA's queue.
        raw_node = fixed_destination_config(tmp_path / "raw", broker, f"/queue/spoolq-test.{to_panda}")
        root_of(raw_node).spool("outgoing").put_many(body.encode() for body in raw)
        sent = enveloped + raw
        incoming = root_of(node).spool("incoming")
        with running(node, "out", "in"), running(raw_node, "out"):
            wait_until(lambda: len(recorded(record)) >= len(sent), 300, f"{len(sent)} messages at the plugin")
            wait_until(lambda: incoming.count() >= len(sent), 120, f"{len(sent)} replies")
            time.sleep(1)  # anything doubled would arrive now
        seen = recorded(record)
        assert lost_and_doubled(sent, [entry["data"] for entry in seen]) == (0, 0), panda.log()[-3000:]
        assert {entry["type"] for entry in seen} == {"str"}
        replies = [incoming.get(name).body_bytes for name in incoming.names()]
        assert lost_and_doubled([entry["reply"].encode() for entry in seen], replies) == (0, 0)
        assert root_of(node).parked_names() == []
    finally:
        panda.stop()


def test_a_seed_style_config_under_spoolq_run_moves_messages_both_ways(panda_python, broker, tmp_path):
    """PanDA's processors send to one that spoolq runs, and receive what it returns."""
    jedi_in, jedi_out = unique("jedi_in"), unique("jedi_out")
    declare_queues(broker, jedi_in, jedi_out)
    spoolq_config = panda_config(
        broker,
        {"jedi_in": f"/queue/{jedi_in}", "jedi_out": f"/queue/{jedi_out}"},
        {
            "upper": {
                "enable": True,
                "module": "tests.run_handlers",
                "name": "PandaUpper",
                "in_queue": "jedi_in",
                "out_queue": "jedi_out",
                "n_threads": 2,
                "params": {"flavour": "seed"},
                "verbose": True,
            }
        },
    )
    path = tmp_path / "jedi_msg_proc.json"
    path.write_text(json.dumps(spoolq_config))
    record, count = tmp_path / "record.jsonl", 50
    panda_side = panda_config(
        broker,
        {"requests": f"/queue/{jedi_in}", "answers": f"/queue/{jedi_out}"},
        {
            "producer": {"module": "recorder", "name": "Producer", "out_queue": "requests"},
            "recorder": {"module": "recorder", "name": "Recorder", "in_queue": "answers"},
        },
    )
    panda_side["processors"]["producer"]["params"] = {"count": count, "prefix": "request"}
    panda_side["processors"]["recorder"]["params"] = {"record": str(record)}
    with running_spoolq(tmp_path) as start:
        run = start(config=path)
        run.wait_for_log("all 1 component and 2 shippers ready")
        panda = PandaProcessors(panda_python, tmp_path / "panda", panda_side)
        try:
            wait_until(lambda: len(recorded(record)) >= count, 300, f"{count} answers at PanDA's plugin")
            time.sleep(1)
        finally:
            panda.stop()
        run.signal(signal.SIGTERM)
        assert run.wait() == 0
    answers = [json.loads(entry["data"]) for entry in recorded(record)]
    expected = [f"REQUEST {n} ZÜRICH" for n in range(1, count + 1)]
    assert lost_and_doubled(expected, [answer["upper"] for answer in answers]) == (0, 0)
    assert all(answer["params"] == {"flavour": "seed"} for answer in answers)
