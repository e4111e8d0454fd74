"""`spoolq tail [-f]`: prints messages as they arrive, by any writer, and consumes none."""

import json
import os
import select
import signal
import subprocess
import sys
import time

import pytest
from conftest import REPO, cli_env
from dirq.QueueSimple import QueueSimple

from spoolq import Message, Spool

SCRIPT = REPO / "scripts" / "spoolq-put.sh"


def read_json_lines(process, count, timeout=15.0):
    """The next ``count`` JSON lines the process prints, waiting at most ``timeout``."""
    lines, buffer, deadline = [], b"", time.monotonic() + timeout
    while len(lines) < count:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"only {len(lines)} of {count} lines arrived: {lines}"
        ready, _, _ = select.select([process.stdout], [], [], remaining)
        if ready:
            chunk = os.read(process.stdout.fileno(), 65536)
            assert chunk, "tail exited early"
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            lines += [json.loads(line) for line in complete]
    return lines


def test_tail_prints_the_newest_messages_and_exits(cli, root_dir):
    spool = Spool(root_dir / "pe", durable=False)
    for i in range(5):
        spool.put(Message.new("T", str(i)))
    result = cli("--root", str(root_dir), "tail", "-n", "2", "--json", "pe")
    assert [json.loads(line)["body"] for line in result.stdout.splitlines()] == ["3", "4"]
    text = cli("--root", str(root_dir), "tail", "pe").stdout.decode().splitlines()
    assert len(text) == 5 and text[0].split()[1:] == ["T", "0"]


@pytest.mark.timeout(60)
def test_tail_follow_sees_every_writer_and_new_directories_without_consuming(root_dir):
    spool = Spool(root_dir / "pe", durable=False, granularity=1)
    spool.put(Message.new("BEFORE", "old"))
    process = subprocess.Popen(
        [sys.executable, "-m", "spoolq", "--root", str(root_dir), "tail", "-f", "--json", "pe"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(),
        # As from a terminal: a test run started in the background (``&``) ignores SIGINT,
        # and its children would inherit that.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert read_json_lines(process, 1)[0]["body"] == "old"
        spool.put(Message.new("SPOOLQ", "renamed in"))
        assert read_json_lines(process, 1)[0]["header"]["type"] == "SPOOLQ"
        time.sleep(1.1)  # the next element lands in a new intermediate directory
        QueueSimple(spool.path, granularity=1).add(b"linked in by dirq")
        assert read_json_lines(process, 1)[0]["body"] == "linked in by dirq"
        subprocess.run(["sh", str(SCRIPT), "-t", "SHELL", spool.path, "moved in"], check=True)
        assert read_json_lines(process, 1)[0]["body"] == "moved in"
        spool.put(b'{"header": 7}')
        assert "'header'" in read_json_lines(process, 1)[0]["malformed"]
        spool.put_many([Message.new("BATCH", str(i)) for i in range(20)])
        assert [r["body"] for r in read_json_lines(process, 20)] == [str(i) for i in range(20)]
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 130, stderr  # Ctrl-C: the README's code for SIGINT
    assert stderr == b""
    stats = spool.stats()
    assert (stats.ready, stats.locked) == (25, 0), "tail must not consume or lock"
