"""A component with ``tick`` feeds its own spool a TICK every ``tick`` seconds, never a pile."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest
from watch_helpers import Watcher, recorded

from spoolq.component import Component, timer
from spoolq.component.ticker import Ticker
from spoolq.config import ComponentConfig
from spoolq.message import Message
from spoolq.spool import SpoolRoot
from tests.waiting import wait_until


@pytest.fixture
def start(root: SpoolRoot, serving):
    """``start(record, tick, sleep)``: ``pe`` served by the recording handler (a line per message)."""

    def serve(record: Path, tick: float | None, sleep: float = 0.0) -> Component:
        options = {"record": str(record), "sleep": sleep}
        config = ComponentConfig(
            name="pe", spool="pe", handler="tests.watch_handlers:record", options=options, tick=tick
        )
        return serving(config, root, rescan_interval=30, poll_interval=0.05)

    return serve


def finish(component: Component) -> None:
    """Drain now, before asserting what the component left (the fixture's drain then does nothing)."""
    component.drain()
    assert component.join(10), "a thread of the component did not end"


def test_ticks_arrive_every_tick_seconds(root, tmp_path, start):
    record = tmp_path / "handled"
    component = start(record, tick=0.2)
    try:
        wait_until(lambda: len(recorded(record)) >= 4, timeout=5, what="four ticks")
    finally:
        finish(component)


def test_a_slow_handler_finds_at_most_one_tick_waiting(root, tmp_path, start):
    """Handling takes 1 s, ticks come every 0.2 s: the spool never holds more than one."""
    record = tmp_path / "handled"
    component = start(record, tick=0.2, sleep=1.0)
    spool = root.spool("pe")
    most = 0
    try:
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            most = max(most, spool.count())
            time.sleep(0.02)
    finally:
        finish(component)
    assert 1 <= len(recorded(record)) <= 3  # 12 ticks would have been put without the check
    assert most == 1
    assert spool.count() <= 1


def test_no_tick_without_the_key(root, tmp_path, start):
    record = tmp_path / "handled"
    component = start(record, tick=None)
    try:
        time.sleep(0.5)
        assert not [t for t in threading.enumerate() if t.name.endswith("-ticker")]
    finally:
        finish(component)
    assert recorded(record) == []


def test_ticker_waits_while_its_last_tick_is_in_the_spool(root):
    spool = root.spool("md")
    ticker = Ticker(spool, 60)
    first = ticker.tick_once()
    assert first is not None and spool.get(first).type == timer.TICK
    assert ticker.tick_once() is None  # still waiting there
    claim = spool.claim(first)
    assert ticker.tick_once() is None  # being handled: still there
    claim.ack()
    assert ticker.tick_once() not in (None, first)
    spool.put(Message.new("OTHER"))  # somebody else's message does not hold ticks back
    assert spool.count() == 2


@pytest.mark.timeout(30)
def test_watch_tick_option_ticks_and_drains(root_dir, tmp_path):
    record = tmp_path / "handled"
    watcher = Watcher(
        root_dir,
        "pe",
        "--handler",
        "tests.watch_handlers:record",
        "-o",
        f"record={record}",
        "--tick",
        "0.2",
        log=tmp_path / "watch.log",
    )
    try:
        wait_until(lambda: len(recorded(record)) >= 3, timeout=10, what="three ticks")
        watcher.signal(signal.SIGTERM)
        assert watcher.wait() == 0, watcher.stderr()
    finally:
        watcher.close()


def test_watch_rejects_a_tick_of_zero(cli, root_dir):
    result = cli("--root", str(root_dir), "watch", "pe", "--tick", "0")
    assert result.returncode != 0
    assert "--tick" in result.stderr.decode()
