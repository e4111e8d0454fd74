"""``spoolq run`` with shippers: real processes, the real broker, two nodes on one machine."""

from __future__ import annotations

import os
import re
import signal
import time

import pytest

from spoolq.config import load_config
from spoolq.daemon.run_plan import planned_children
from spoolq.errors import ConfigError
from spoolq.message import Message
from spoolq.testbed.broker import free_port
from spoolq.testbed.shipping import root_of, unique, write_node_config
from spoolq.testbed.shipping import running as shippers_running
from tests.prometheus_text import sample_value
from tests.run_helpers import component_table, running
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def start_run(tmp_path):
    with running(tmp_path / "a") as start:
        yield start


def node_a(tmp_path, broker, *, ship_extra: str = "", receive_extra: str = ""):
    """Node A's configuration: component ``pe``, shippers ``out`` and ``in``; its node name."""
    node = unique("a")
    config = write_node_config(
        tmp_path / "a",
        node,
        broker,
        top_extra="metrics_interval = 0.2\n" + component_table("pe"),
        ship_extra=ship_extra,
        receive_extra=receive_extra,
    )
    return config, node


def node_b(tmp_path, broker):
    """Node B's configuration (shippers only, the far side of A's messages); its node name."""
    node = unique("b")
    return write_node_config(tmp_path / "b", node, broker), node


def test_run_supervises_a_component_and_both_shippers_across_two_nodes(start_run, broker, tmp_path, cli):
    config, a = node_a(tmp_path, broker)
    far, b = node_b(tmp_path, broker)
    run = start_run(config=config)
    run.wait_for_log("all 1 component and 2 shippers ready")
    assert "shipper out is ready" in run.log() and "shipper in is ready" in run.log()

    run.root.spool("outgoing").put(Message.new("ask", "to the far node", to=f"md@{b}"))
    with shippers_running(far, "in", "out"):
        md = root_of(far).spool("md")
        wait_until(lambda: md.count() == 1, what="the message in the far node's md spool")
        assert next(md.claims()).message().body == "to the far node"
        # and back: the far node sends to pe@A; A's receiver delivers, A's component answers
        root_of(far).spool("outgoing").put(Message.new("ping", "hello", to=f"pe@{a}"))
        replies = run.root.spool("pe_reply")
        wait_until(lambda: replies.count() == 1, what="pe's answer to a message from the far node")
        assert next(replies.claims()).message().body == "hello by pe"

    def prom() -> str:
        return cli("-c", str(config), "stats", "--prom").stdout.decode()

    # Each shipper writes its own file when its interval is due: wait for all three lines at once.
    expected = (
        ("spoolq_shipper_sent_total", {"kind": "ship", "shipper": "out"}),
        ("spoolq_shipper_received_total", {"kind": "receive", "shipper": "in"}),
        ("spoolq_shipper_connected", {"kind": "ship", "shipper": "out"}),
    )

    def all_reported() -> bool:
        text = prom()
        return all(sample_value(text, name, **labels) == 1 for name, labels in expected)

    wait_until(all_reported, what="the shippers' metrics")
    run.signal(signal.SIGTERM)
    assert run.wait(30) == 0
    assert "all components and shippers stopped" in run.log()
    assert "shipper out stopped (status 0)" in run.log()


def test_ready_does_not_wait_for_a_broker_that_is_down(start_run, broker, tmp_path, cli):
    node = unique("a")
    closed = f"127.0.0.1:{free_port()}"
    config = write_node_config(tmp_path / "a", node, broker, hosts=[closed], top_extra=component_table("pe"))
    run = start_run(config=config)
    run.wait_for_log("all 1 component and 2 shippers ready")
    assert run.ask("pe").body == "hello by pe"  # the components work meanwhile
    run.root.spool("outgoing").put(Message.new("x", "waits on disk", to="md@elsewhere"))
    shown = cli("-c", str(config), "stats").stdout.decode()
    assert "disconnected" in shown and "out" in shown
    assert run.root.spool("outgoing").count() == 1
    run.signal(signal.SIGTERM)
    assert run.wait(30) == 0


def test_a_shipper_killed_hard_is_restarted_and_delivers(start_run, broker, tmp_path):
    config, _a = node_a(tmp_path, broker)
    far, b = node_b(tmp_path, broker)
    run = start_run(config=config)
    run.wait_for_log("all 1 component and 2 shippers ready")
    first = int(run.wait_for_log(r"started shipper out \(pid (\d+)\)")[-1].group(1))
    os.kill(first, signal.SIGKILL)
    run.wait_for_log(r"shipper out exited unexpectedly \(status -9\); restarting in [\d.]+ s \(restart 1\)")
    found = run.wait_for_log(r"started shipper out \(pid (\d+)\)", count=2)
    assert int(found[-1].group(1)) != first
    run.root.spool("outgoing").put_many(Message.new("x", str(n), to=f"md@{b}") for n in range(5))
    with shippers_running(far, "in"):
        wait_until(lambda: root_of(far).spool("md").count() == 5, what="5 delivered after the restart")
    run.signal(signal.SIGTERM)
    assert run.wait(30) == 0


def test_locks_left_by_a_killed_shipper_are_taken_back_and_sent(start_run, broker, tmp_path):
    config, _a = node_a(tmp_path, broker)
    far, b = node_b(tmp_path, broker)
    outgoing = root_of(config).spool("outgoing")
    outgoing.put_many(Message.new("x", str(n), to=f"md@{b}") for n in range(3))
    left = next(outgoing.claims())  # as a shipper killed between send and receipt leaves it
    long_ago = time.time() - 1000
    os.utime(left.where + ".lck", (long_ago, long_ago))
    fresh = next(outgoing.claims())  # younger than 2 x (send + receipt timeout): a live holder's
    run = start_run(config=config)
    with shippers_running(far, "in"):
        wait_until(lambda: root_of(far).spool("md").count() == 2, what="the stale one sent again")
    run.wait_for_log(r"shipper out: unlocked 1 stale claim\(s\) older than 80 s")
    # A confirmed element is removed by the shipper's reaper thread a moment after the receipt.
    wait_until(lambda: outgoing.count() == 1, what="the two sent ones removed")
    assert outgoing.is_locked(fresh.name)
    run.signal(signal.SIGTERM)
    assert run.wait(30) == 0


def test_disabled_shippers_are_not_started_and_sighup_applies_shipper_changes(start_run, broker, tmp_path):
    config, _a = node_a(tmp_path, broker, receive_extra="enable = false")
    run = start_run(config=config)
    run.wait_for_log("all 1 component and 1 shipper ready")
    assert "started shipper in" not in run.log()

    config.write_text(config.read_text().replace("enable = false", "enable = true"))
    run.signal(signal.SIGHUP)
    run.wait_for_log(r"started shipper in \(pid \d+\)")
    run.wait_for_log("all 1 component and 2 shippers ready")

    config.write_text(config.read_text().replace("window = 200", "window = 50"))
    run.signal(signal.SIGHUP)
    run.wait_for_log("shipper out changed: restarting it")
    run.wait_for_log(r"started shipper out \(pid \d+\)", count=2)
    assert "shipper in changed" not in run.log()

    config.write_text(config.read_text().replace("window = 50", "windw = 50"))
    run.signal(signal.SIGHUP)
    run.wait_for_log(r"configuration reload failed, keeping the running .*shippers\.out\.windw")
    run.signal(signal.SIGTERM)
    assert run.wait(30) == 0


def test_a_bad_shipper_table_stops_run_before_anything_starts(tmp_path, broker, cli):
    config, _a = node_a(tmp_path, broker, ship_extra="max_size = 0")
    done = cli("-c", str(config), "run")
    assert done.returncode == 4
    assert b"shippers.out.max_size: must be >= 1" in done.stderr and b"Traceback" not in done.stderr


def test_the_plan_holds_enabled_children_and_checks_shipper_names(tmp_path, broker):
    config_path, _a = node_a(tmp_path, broker, receive_extra="enable = false")
    plan = planned_children(load_config(str(config_path)))
    assert [spec.key for spec in plan] == ["component pe", "shipper out"]
    shipper, destination, broker_config = plan[1].settings
    assert (shipper.kind, destination.name, broker_config.name) == ("ship", "nodes", "main")

    config_path.write_text(config_path.read_text().replace("[shippers.in]", "[shippers.'in/../x']"))
    with pytest.raises(ConfigError, match="a shipper name is letters"):
        planned_children(load_config(str(config_path)))


def test_a_refused_login_under_run_keeps_the_shipper_ready_and_shown_in_stats(
    start_run, broker, tmp_path, cli
):
    config, _a = node_a(tmp_path, broker)
    config.write_text(config.read_text().replace("backoff_max = 1\n", "backoff_max = 30\n"))
    run = start_run(config=config, SPOOLQ_TEST_PASSCODE="wrong")
    run.wait_for_log("all 1 component and 2 shippers ready")  # at the refusal, not after backoff_max
    run.wait_for_log(r"shipper out: broker 'main' refused the login of user 'guest'.*; retrying every 30 s")

    def stats() -> str:
        return cli("--config", str(config), "stats").stdout.decode()

    shown = wait_until(
        lambda: stats().count("login refused") == 2 and stats(), 20, "both shown as login refused"
    )
    assert "stale" not in shown
    assert "exited unexpectedly" not in run.log()
    assert len(re.findall(r"shipper out: broker 'main' refused the login", run.log())) == 1
