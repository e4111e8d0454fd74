"""A refused login (a wrong password) is a configuration error, said once, not a silent retry loop."""

from __future__ import annotations

import logging
import subprocess
import time

import pytest

from spoolq.shippers.refusals import Refusal
from spoolq.testbed.shipping import running, unique, write_node_config
from tests.brokers import EACH_BROKER
from tests.conftest import cli_env
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(120)

#: What each broker product says to a wrong password (ActiveMQ: in the header and again in the body).
REFUSAL_WORDS = {
    "rabbitmq": "Bad CONNECT Access refused for user 'guest'",
    "activemq": "User name [guest] or password is invalid.",
}


def wrong_password_config(tmp_path, broker, hosts=None):
    """A node's configuration whose connect_timeout is longer than any test here waits.

    A refusal noticed only after connect_timeout fails these tests; the ERROR
    frame that answers CONNECT comes within the broker's round trip.
    """
    path = write_node_config(tmp_path / "a", unique("a"), broker, hosts=hosts)
    path.write_text(path.read_text().replace("connect_timeout = 5\n", "connect_timeout = 100\n"))
    return path


@EACH_BROKER
@pytest.mark.parametrize(("command", "shipper"), [("ship", "out"), ("receive", "in")])
def test_a_daemon_run_by_hand_exits_4_at_once_naming_the_broker_and_the_user(
    broker, tmp_path, cli, command, shipper
):
    port = broker.stomp_port
    config = wrong_password_config(tmp_path, broker, hosts=[f"127.0.0.1:{port}", f"localhost:{port}"])
    done = cli(
        "--config", str(config), command, "--shipper", shipper, env=cli_env(SPOOLQ_TEST_PASSCODE="wrong")
    )
    assert done.returncode == 4, done.stderr.decode()
    lines = [line for line in done.stderr.decode().strip().splitlines() if "stomp.py:" not in line]
    assert len(lines) == 1, lines  # one line of ours, no retry loop, no traceback
    assert "broker 'main' refused the login of user 'guest'" in lines[0]
    assert f"127.0.0.1:{port}" in lines[0] and f"localhost:{port}" in lines[0]  # every host refused it
    assert lines[0].count(REFUSAL_WORDS[broker.product]) == 2  # once a host, not header and body
    assert "retrying" not in lines[0]


@EACH_BROKER
def test_a_host_that_does_not_answer_is_no_refusal_and_the_daemon_keeps_trying(broker, tmp_path, cli):
    from spoolq.testbed.broker import free_port

    hosts = [f"127.0.0.1:{broker.stomp_port}", f"127.0.0.1:{free_port()}"]  # the second: nobody listens
    config = wrong_password_config(tmp_path, broker, hosts=hosts)
    env = cli_env(SPOOLQ_TEST_PASSCODE="wrong")
    with pytest.raises(subprocess.TimeoutExpired) as still_running:  # an outage may end: no exit
        cli("--config", str(config), "ship", "--shipper", "out", env=env, timeout=6)
    said = (still_running.value.stderr or b"").decode()
    assert f"127.0.0.1:{broker.stomp_port}: {REFUSAL_WORDS[broker.product]}" in said  # at once
    assert "no host answered" in said


@EACH_BROKER
def test_a_supervised_shipper_shows_login_refused_says_it_once_and_waits_backoff_max(
    broker, tmp_path, cli, monkeypatch, caplog
):
    config = wrong_password_config(tmp_path, broker)
    monkeypatch.setenv("SPOOLQ_TEST_PASSCODE", "wrong")
    caplog.set_level(logging.INFO, logger="spoolq.shippers")
    with running(config, "out") as (shipper,):
        wait_until(
            lambda: "login refused" in cli("--config", str(config), "stats").stdout.decode(), 20, "stats"
        )
        assert shipper.status.state == "login refused"
        time.sleep(2.5)  # backoff_max is 1 s here: two more refusals at least
    said = [r.getMessage() for r in caplog.records if "refused the login" in r.getMessage()]
    assert len(said) == 1, said
    assert said[0].startswith("shipper out: broker 'main' refused the login of user 'guest'")
    assert "retrying every 1 s" in said[0]
    assert not [r for r in caplog.records if "retrying in 0.1 s" in r.getMessage()]
    assert not [
        r for r in caplog.records if "error frame" in r.getMessage()
    ]  # the refusal, not a second line


def test_the_same_words_in_the_error_header_and_body_are_quoted_once():
    words = "User name [guest] or password is invalid."
    assert Refusal.from_frame({"message": words}, words.encode()).words == words
    both = Refusal.from_frame({"message": "Bad CONNECT"}, b"Access refused for user 'guest'")
    assert both.words == "Bad CONNECT Access refused for user 'guest'"


def test_a_host_nobody_listens_on_is_said_once_with_the_reason(tmp_path, cli):
    from spoolq.testbed.broker import free_port

    port = free_port()  # nobody listens: each connect is refused at once
    config = write_node_config(tmp_path / "a", unique("a"), None, hosts=[f"127.0.0.1:{port}"])
    with pytest.raises(subprocess.TimeoutExpired) as still_running:
        cli("--config", str(config), "ship", "--shipper", "out", timeout=4)
    lines = (still_running.value.stderr or b"").decode().splitlines()
    tries = [line for line in lines if "no host answered" in line]
    assert tries, lines
    assert all(f"127.0.0.1:{port}: [Errno 111] Connection refused" in line for line in tries), tries
    assert not [line for line in lines if "stomp.py" in line and "could not connect" in line]
