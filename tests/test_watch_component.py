"""The component runtime in-process: real spools, real inotify, real threads."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families
from watch_helpers import recorded

from spoolq import envelope
from spoolq.cli import main
from spoolq.cli import watch as watch_commands
from spoolq.component import Component
from spoolq.component.dispatcher import Dispatcher
from spoolq.component.retry import ATTEMPT, NOT_BEFORE
from spoolq.config import ComponentConfig, RetryPolicy
from spoolq.errors import HandlerNotFound
from spoolq.handlers.base import Handler
from spoolq.message import Message
from spoolq.spool import SpoolRoot, parking
from tests.waiting import wait_until


@pytest.fixture
def running(root: SpoolRoot, serving):
    """``running(handler=..., **config)`` starts a component; all are drained at the end."""

    def start(**fields) -> Component:
        fields.setdefault("name", "pe")
        fields.setdefault("spool", "pe")
        fields.setdefault("handler", "echo")
        return serving(ComponentConfig(**fields), root, rescan_interval=30, poll_interval=0.05)

    return start


def replies(root: SpoolRoot, spool: str = "pe_reply") -> list[Message]:
    target = root.spool(spool)
    return [target.get(name) for name in target.names()]


def test_message_put_by_the_api_is_answered_with_its_correlation_id(root, running):
    running()
    request = Message.new("PING", "hello")
    root.spool("pe").put(request)
    wait_until(lambda: replies(root) and root.spool("pe").count() == 0, what="the reply")
    (reply,) = replies(root)
    assert reply.correlation_id == request.message_id
    assert reply.body == "hello" and reply.type == "PING"


def test_reply_goes_to_the_requests_reply_to_spool(root, running):
    running(reply_spool="unused")
    root.spool("pe").put(Message.new("PING", "x", reply_to="caller_inbox"))
    wait_until(lambda: replies(root, "caller_inbox"), what="the reply in caller_inbox")
    assert replies(root, "unused") == []


def test_configured_reply_spool_is_used_without_reply_to(root, running):
    running(reply_spool="answers")
    root.spool("pe").put(Message.new("PING", "x"))
    wait_until(lambda: replies(root, "answers"), what="the reply in answers")


def test_many_elements_in_brand_new_directories_are_all_handled(root, running, tmp_path):
    """Granularity 1: new intermediate directories appear while we write; none is missed."""
    log = tmp_path / "seen"
    running(handler="tests.watch_handlers:record", options={"record": str(log)}, workers=2)
    spool = root.spool("pe")
    ids = set()
    for second in range(3):  # elements written straight into directories no watch knows yet
        directory = Path(spool.path) / f"{0x10000000 + second:08x}"
        directory.mkdir()
        for index in range(50):
            message = Message.new("PING", str(index))
            ids.add(message.message_id)
            temporary = directory / f"{index:014x}.tmp"
            temporary.write_bytes(__import__("spoolq.envelope").envelope.encode(message))
            os.rename(temporary, directory / f"{index:014x}")
    for _ in range(100):
        message = Message.new("PING", "api")
        ids.add(message.message_id)
        spool.put(message)
    wait_until(lambda: len(recorded(log)) >= len(ids), what="all 250 messages handled")
    assert sorted(recorded(log)) == sorted(ids)


def test_retry_then_success_with_the_attempt_in_the_header(root, running):
    running(handler="tests.watch_handlers:retry_twice")
    root.spool("pe").put(Message.new("JOB", "x"))
    spool = root.spool("pe")
    wait_until(lambda: replies(root) and spool.count() == 0, what="the reply after two retries")
    (reply,) = replies(root)
    assert reply.body == "attempt 3"


def test_retry_then_park_after_the_last_attempt(root, running):
    policy = RetryPolicy(max_attempts=3, backoff=0.02, backoff_factor=1.0)
    component = running(handler="tests.watch_handlers:always_fails", retry=policy)
    request = Message.new("JOB", "x")
    root.spool("pe").put(request)
    spool = root.spool("pe")
    wait_until(lambda: list(parking.iter_parked(root, "pe")) and spool.count() == 0, what="parked")
    (parked,) = parking.iter_parked(root, "pe")
    assert parked.attempts == 3 and parked.message_id == request.message_id
    assert "RuntimeError: this handler always fails" in parked.reason and "Traceback" in parked.reason
    assert component.metrics.value("spoolq_messages_retried_total", component="pe") == 2


@pytest.mark.parametrize(
    "arrived",
    [
        envelope.encode(Message.new("JOB", "as spoolq encodes it")),
        b'{ "header" : {"type": "JOB", "message-id": "m1"},  "body": "another encoder\'s spacing" }',
        envelope.encode(Message.new("JOB", "its own attempt header").with_header(**{ATTEMPT: "1"})),
    ],
)
def test_a_message_parked_after_retries_is_replayed_as_exactly_the_bytes_that_arrived(root, running, arrived):
    policy = RetryPolicy(max_attempts=3, backoff=0.02, backoff_factor=1.0)
    component = running(handler="tests.watch_handlers:always_fails", retry=policy)
    spool = root.spool("pe")
    spool.put(arrived)
    wait_until(lambda: list(parking.iter_parked(root, "pe")) and spool.count() == 0, what="parked")
    component.drain()
    assert component.join(15)
    (parked,) = parking.iter_parked(root, "pe")
    assert parked.original == arrived
    list(parking.replay(root, "pe", [parked.name]))
    (name,) = spool.names()
    assert spool.read(name) == arrived


def test_a_retry_does_not_hold_up_other_messages(root, running, tmp_path):
    log = tmp_path / "seen"
    running(handler="tests.watch_handlers:record", options={"record": str(log)}, workers=1)
    due = f"{time.time() + 200:.6f}"  # within the default max_delay: a retry could have written it
    later = Message.new("JOB", "later").with_header(**{ATTEMPT: "2", NOT_BEFORE: due})
    root.spool("pe").put(later)
    now = Message.new("JOB", "now")
    root.spool("pe").put(now)
    wait_until(lambda: recorded(log) == [now.message_id], what="the due message handled first")
    wait_until(lambda: root.spool("pe").count() == 1, what="the due message removed")
    assert not root.spool("pe").is_locked(next(root.spool("pe").names()))


def test_unknown_type_is_parked_when_only_types_are_bound(root, running):
    running(handler="", types={"CACHE_WRITTEN": "tests.watch_handlers:cache_written"})
    root.spool("pe").put(Message.new("CACHE_WRITTEN", "file-1"))
    root.spool("pe").put(Message.new("SOMETHING_ELSE", "file-2"))
    wait_until(lambda: list(parking.iter_parked(root, "pe")) and replies(root), what="park and reply")
    (parked,) = parking.iter_parked(root, "pe")
    assert parked.type == "SOMETHING_ELSE" and "no handler for message type" in parked.reason
    (reply,) = replies(root)
    assert reply.type == "CACHE_WRITTEN_ACK"
    wait_until(lambda: root.spool("audit").count() == 1, what="the emitted audit message")


def test_drain_lets_the_message_in_flight_finish(root, tmp_path):
    log, started = tmp_path / "seen", tmp_path / "started"
    options = {"record": str(log), "started": str(started), "sleep": "0.5"}
    config = ComponentConfig(name="pe", spool="pe", handler="tests.watch_handlers:record", options=options)
    component = Component(config, root)
    component.start()
    component.ready.wait(10)
    request = Message.new("JOB", "slow")
    root.spool("pe").put(request)
    wait_until(lambda: recorded(started), what="the handler started")
    component.drain()
    assert component.join(10)
    assert recorded(log) == [request.message_id]
    assert root.spool("pe").count() == 0


def test_stop_leaves_the_claim_locked_for_a_later_retry(root, tmp_path):
    log, started = tmp_path / "seen", tmp_path / "started"
    options = {"record": str(log), "started": str(started), "sleep": "0.3"}
    config = ComponentConfig(name="pe", spool="pe", handler="tests.watch_handlers:record", options=options)
    component = Component(config, root)
    component.start()
    component.ready.wait(10)
    root.spool("pe").put(Message.new("JOB", "slow"))
    wait_until(lambda: recorded(started), what="the handler started")
    component.stop()
    assert component.join(10)
    name = next(root.spool("pe").names())
    assert root.spool("pe").is_locked(name)


def test_long_handler_keeps_its_lock_fresh(root, running, tmp_path):
    """lock_timeout 0.6 s, handler 1.5 s: without refreshing, the purge would unlock it mid-way."""
    log = tmp_path / "seen"
    running(
        handler="tests.watch_handlers:record",
        options={"record": str(log), "sleep": "1.5"},
        lock_timeout=0.6,
        workers=2,
    )
    request = Message.new("JOB", "long")
    root.spool("pe").put(request)
    wait_until(lambda: recorded(log), what="the long handler finished")
    assert recorded(log) == [request.message_id]  # handled once: never taken for stale


def test_polling_mode_handles_messages(root, running):
    running(poll=True)
    root.spool("pe").put(Message.new("PING", "polled"))
    wait_until(lambda: replies(root), what="the reply with polling")


def test_handler_lookup_errors_name_the_handler(root):
    with pytest.raises(HandlerNotFound, match="no_such_module"):
        Component(ComponentConfig(name="pe", spool="pe", handler="no_such_module:f"), root)
    with pytest.raises(HandlerNotFound, match="not a built-in"):
        Component(ComponentConfig(name="pe", spool="pe", handler="nonsense"), root)


class Counting(Handler):
    calls = 0
    lock = threading.Lock()

    def handle(self, message, context):
        with Counting.lock:
            Counting.calls += 1


def test_module_class_handler_and_metrics(root, running):
    component = running(handler=f"{__name__}:Counting", workers=3)
    root.spool("pe").put_many(Message.new("PING", str(i)) for i in range(20))
    wait_until(lambda: component.metrics.value("spoolq_messages_handled_total", component="pe") == 20)
    assert Counting.calls == 20
    exported = {f.name: f for f in text_string_to_metric_families(component.metrics.render())}
    assert exported["spoolq_messages_handled"].samples[0].value == 20


def test_reply_to_an_invalid_spool_name_parks_that_message_only(root, running):
    running()
    root.spool("pe").put(Message.new("PING", "lost", reply_to="../etc"))
    good = Message.new("PING", "fine")
    root.spool("pe").put(good)
    wait_until(lambda: list(parking.iter_parked(root, "pe")) and replies(root), what="park and reply")
    (parked,) = parking.iter_parked(root, "pe")
    assert "cannot deliver the handler's output" in parked.reason and "'../etc'" in parked.reason
    assert [r.correlation_id for r in replies(root)] == [good.message_id]


def test_reply_to_a_component_on_another_node_goes_to_outgoing(root, running):
    running()
    request = Message.new("PING", "far", reply_to="client@node1")
    root.spool("pe").put(request)
    wait_until(lambda: replies(root, "outgoing"), what="the reply in the outgoing spool")
    (reply,) = replies(root, "outgoing")
    assert reply.header["to"] == "client@node1" and reply.correlation_id == request.message_id


def test_reply_to_a_component_on_this_node_stays_local(root, serving):
    serving(ComponentConfig(name="pe", spool="pe", handler="echo"), root, node="node2")
    root.spool("pe").put(Message.new("PING", "near", reply_to="client@node2"))
    wait_until(lambda: replies(root, "client"), what="the reply in the local spool client")
    assert replies(root, "outgoing") == []


def test_on_change_is_called_when_ready_and_when_every_thread_has_ended(root):
    seen: list[tuple[bool, bool]] = []
    config = ComponentConfig(name="pe", spool="pe", handler="echo", workers=2)
    component = Component(
        config, root, on_change=lambda: seen.append((component.ready.is_set(), component.ended.is_set()))
    )
    component.start()
    wait_until(lambda: seen, what="the call for readiness")
    assert seen == [(True, False)] and component.running
    component.drain()
    wait_until(lambda: len(seen) == 2, what="the call for the end")
    assert seen[1] == (True, True) and not component.running
    assert component.join(10)


def test_watch_exits_with_an_error_when_its_component_ends_unexpectedly(root_dir, monkeypatch):
    def fails(self):
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(Dispatcher, "run", fails)
    monkeypatch.setattr(watch_commands, "configure_logging", lambda **_: None)  # keep pytest's logging
    result = CliRunner().invoke(main, ["--root", str(root_dir), "watch", "pe", "--handler", "noop"])
    assert result.exit_code == 1
    assert "the component ended unexpectedly" in result.output


def test_a_dispatcher_failing_at_once_still_ends_the_threads_started_after_it(root, monkeypatch):
    def fails(self):
        raise RuntimeError("a bug of ours")

    spawn = Component._spawn

    def slow_spawn(self, role, target):  # the dispatcher fails (and drains) before the workers exist
        thread = spawn(self, role, target)
        if role == "dispatcher":
            assert self._draining.wait(5)
        return thread

    monkeypatch.setattr(Dispatcher, "run", fails)
    monkeypatch.setattr(Component, "_spawn", slow_spawn)
    component = Component(ComponentConfig(name="pe", spool="pe", handler="echo", workers=2, tick=60), root)
    component.start()
    assert component.join(10)
    assert component.ended.is_set() and not component.ready.is_set()
