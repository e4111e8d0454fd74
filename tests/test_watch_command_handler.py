"""The external-command handler, driving real shell scripts."""

from __future__ import annotations

from pathlib import Path

import pytest

from spoolq.component import Component
from spoolq.config import ComponentConfig, RetryPolicy
from spoolq.message import Message
from spoolq.spool import SpoolRoot, parking
from tests.waiting import wait_until


@pytest.fixture
def run_script(root: SpoolRoot, serving):
    """``run_script(shell_text, timeout=...)`` serves spool pe with ``sh -c shell_text``."""

    def start(script: str, timeout: float = 10, attempts: int = 5) -> Component:
        options = {"command": ["sh", "-c", script], "timeout": timeout}
        policy = RetryPolicy(max_attempts=attempts, backoff=0.05, backoff_factor=1.0)
        config = ComponentConfig(name="pe", spool="pe", handler="command", options=options, retry=policy)
        return serving(config, root)

    return start


def test_exit_0_replies_with_stdout_and_sees_headers_as_environment(root, run_script):
    run_script('printf "%s|%s|" "$SPOOLQ_HEADER_TYPE" "$SPOOLQ_HEADER_REPLY_TO"; tr a-z A-Z')
    request = Message.new("PING", "hello", reply_to="caller")
    root.spool("pe").put(request)
    caller = root.spool("caller")
    wait_until(lambda: caller.count() == 1, what="the reply from the command")
    reply = caller.get(next(caller.names()))
    assert reply.body == "PING|caller|HELLO" and reply.correlation_id == request.message_id


def test_exit_75_retries_later_with_the_attempt_number(root, run_script, tmp_path):
    run_script(
        '[ "$SPOOLQ_ATTEMPT" -ge 3 ] && echo "ok on $SPOOLQ_ATTEMPT" && exit 0; echo busy >&2; exit 75'
    )
    root.spool("pe").put(Message.new("JOB", "x"))
    reply_spool = root.spool("pe_reply")
    wait_until(lambda: reply_spool.count() == 1, what="the reply after retries")
    assert reply_spool.get(next(reply_spool.names())).body == "ok on 3\n"


def test_other_exit_code_parks_with_stderr_as_the_reason(root, run_script):
    run_script("echo 'disk on fire' >&2; exit 1")
    root.spool("pe").put(Message.new("JOB", "x"))
    wait_until(lambda: list(parking.iter_parked(root, "pe")), what="the message parked")
    (parked,) = parking.iter_parked(root, "pe")
    assert "exited with 1: disk on fire" in parked.reason and parked.attempts == 1


def test_timeout_kills_the_process_group_and_the_attempt_fails(root, run_script, tmp_path):
    pid_file = tmp_path / "child.pid"
    run_script(f"sleep 60 & echo $! > {pid_file}; wait", timeout=0.5, attempts=1)
    root.spool("pe").put(Message.new("JOB", "x"))
    wait_until(lambda: list(parking.iter_parked(root, "pe")), what="the message parked after the timeout")
    (parked,) = parking.iter_parked(root, "pe")
    assert "killed after 0.5 s timeout" in parked.reason
    child = int(pid_file.read_text())
    wait_until(lambda: not Path(f"/proc/{child}").exists() or "Z" in _state(child), what="the child killed")


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0]
    except (FileNotFoundError, IndexError):
        return "Z"
