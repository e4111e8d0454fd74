"""scripts/spoolq-put.sh, run by a POSIX shell (dash), writes elements spoolq and python-dirq read."""

import json
import os
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from dirq.QueueSimple import QueueSimple

from spoolq import Spool
from spoolq.spool import layout

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "spoolq-put.sh"
SHELL = shutil.which("dash") or "sh"


def shell_put(*args: str, stdin: bytes | None = None, **env: str) -> str:
    """Run the writer under a POSIX shell with ``args``; return the element name it printed."""
    result = subprocess.run(
        [SHELL, str(SCRIPT), *args],
        input=stdin,
        capture_output=True,
        env={**os.environ, **env},
        timeout=30,
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode().strip()


@pytest.fixture
def spool(tmp_path):
    return Spool(tmp_path / "q")


TRICKY = 'line one\nquote " backslash \\ tab\t cr\r bell\x07 ünïcode €\n\n'


def test_element_has_the_dirq_names_and_no_temporary_is_left(spool):
    name = shell_put("-t", "CACHE_WRITTEN", spool.path, "hello")
    assert layout.is_element_path(name)
    directory, element = name.split("/")
    assert int(directory, 16) % 60 == 0
    assert 0 <= layout.element_time(element) - int(directory, 16) < 60
    assert os.listdir(os.path.join(spool.path, directory)) == [element]


def test_spoolq_reads_headers_and_a_tricky_body_from_stdin(spool):
    name = shell_put(
        "-t", "CACHE_WRITTEN", "-c", "text/plain", "-H", "x-site=a=b", spool.path, "-", stdin=TRICKY.encode()
    )
    message = spool.get(name)
    assert message.body == TRICKY
    assert message.type == "CACHE_WRITTEN"
    assert message.content_type == "text/plain"
    assert message.header["x-site"] == "a=b"
    assert re.fullmatch(r"[0-9a-f]{32}", message.message_id)
    assert float(message.header["timestamp"]) > 0


def test_json_body_is_decoded_for_handlers(spool):
    name = shell_put("-t", "CACHE_MISSED", "-c", "application/json", spool.path, '{"files": ["a", "b"]}')
    assert spool.get(name).payload() == {"files": ["a", "b"]}


def test_output_validates_against_the_schema(spool):
    schema = json.loads(resources.files("spoolq").joinpath("schema/envelope.schema.json").read_text())
    name = shell_put("-H", "k=v", spool.path, TRICKY)
    jsonschema.validate(json.loads(spool.read(name)), schema)


def test_python_dirq_reads_it(spool):
    names = [shell_put("-t", "T", spool.path, f"body {i}") for i in range(3)]
    queue = QueueSimple(spool.path)
    assert sorted(queue) == sorted(names)
    for name in names:
        assert queue.lock(name)
        assert json.loads(queue.get(name))["body"].startswith("body ")
        queue.remove(name)
    assert spool.count() == 0


def test_granularity_sets_the_directory(spool):
    name = shell_put(spool.path, "x", SPOOLQ_GRANULARITY="3600")
    assert int(name.split("/")[0], 16) % 3600 == 0


def test_missing_spool_directory_is_an_error(tmp_path):
    result = subprocess.run([SHELL, str(SCRIPT), str(tmp_path / "nope"), "x"], capture_output=True)
    assert result.returncode == 3
    assert b"no such spool directory" in result.stderr
