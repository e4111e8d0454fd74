"""The emitters alone: what inotify and polling report for real filesystem changes."""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

from spoolq.watcher import PollingEmitter, SpoolEvent
from spoolq.watcher.inotify import InotifyEmitter


def collect(emitter, until, timeout: float = 5.0) -> list[SpoolEvent]:
    """Events from ``emitter`` until ``until(events)`` holds (or the deadline)."""
    events: list[SpoolEvent] = []
    deadline = time.monotonic() + timeout
    while not until(events) and time.monotonic() < deadline:
        events += emitter.wait(0.2)
    return events


def test_first_wait_reports_a_full_rescan(tmp_path: Path):
    emitter = InotifyEmitter(str(tmp_path))
    try:
        assert emitter.wait(0) == [SpoolEvent("rescan")]
    finally:
        emitter.close()


def test_rename_and_link_into_a_watched_directory_are_elements(tmp_path: Path):
    (tmp_path / "10000000").mkdir()
    emitter = InotifyEmitter(str(tmp_path))
    try:
        emitter.wait(0)
        (tmp_path / "x.tmp").write_text("a")
        os.rename(tmp_path / "x.tmp", tmp_path / "10000000" / "10000000000001")  # rename: IN_MOVED_TO
        (tmp_path / "y.tmp").write_text("b")
        os.link(tmp_path / "y.tmp", tmp_path / "10000000" / "10000000000002")  # dirq: IN_CREATE
        os.link(tmp_path / "y.tmp", tmp_path / "10000000" / "10000000000002.lck")  # a lock: not news
        events = collect(emitter, lambda s: len(s) >= 2)
        assert events == [
            SpoolEvent("element", "10000000", "10000000000001"),
            SpoolEvent("element", "10000000", "10000000000002"),
        ]
    finally:
        emitter.close()


def test_new_directory_is_watched_and_listed(tmp_path: Path):
    emitter = InotifyEmitter(str(tmp_path))
    try:
        emitter.wait(0)
        (tmp_path / "20000000").mkdir()
        events = collect(emitter, lambda s: SpoolEvent("directory", "20000000") in s)
        assert SpoolEvent("directory", "20000000") in events
        (tmp_path / "20000000" / "20000000000001").write_text("x")
        events = collect(emitter, lambda s: s)
        assert events == [SpoolEvent("element", "20000000", "20000000000001")]
    finally:
        emitter.close()


def test_removed_directory_drops_its_watch(tmp_path: Path):
    (tmp_path / "10000000").mkdir()
    emitter = InotifyEmitter(str(tmp_path))
    try:
        emitter.wait(0)
        os.rmdir(tmp_path / "10000000")
        deadline = time.monotonic() + 5
        while emitter._directories and time.monotonic() < deadline:
            emitter.wait(0.1)
        assert emitter._directories == {}
    finally:
        emitter.close()


def test_periodic_rescan_and_wake(tmp_path: Path):
    emitter = InotifyEmitter(str(tmp_path), rescan_interval=0.2)
    try:
        emitter.wait(0)
        assert collect(emitter, lambda s: s, timeout=3) == [SpoolEvent("rescan")]
        emitter.wake()
        started = time.monotonic()
        assert emitter.wait(10) in ([], [SpoolEvent("rescan")])
        assert time.monotonic() - started < 1
    finally:
        emitter.close()


def test_idle_wait_blocks_without_burning_cpu(tmp_path: Path):
    emitter = InotifyEmitter(str(tmp_path), rescan_interval=60)
    try:
        emitter.wait(0)
        before = resource.getrusage(resource.RUSAGE_THREAD)
        assert emitter.wait(0.5) == []
        after = resource.getrusage(resource.RUSAGE_THREAD)
        assert (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime) < 0.05
    finally:
        emitter.close()


def test_polling_emitter_rescans_every_interval(tmp_path: Path):
    emitter = PollingEmitter(str(tmp_path), interval=0.1)
    try:
        assert emitter.wait(0) == [SpoolEvent("rescan")]
        assert collect(emitter, lambda s: s, timeout=3) == [SpoolEvent("rescan")]
    finally:
        emitter.close()


def test_queue_overflow_resyncs_watches_and_rescans_everything(tmp_path: Path):
    """The kernel drops events past max_queued_events; its overflow event means: look at everything."""
    from inotify_simple import Event, flags

    emitter = InotifyEmitter(str(tmp_path))
    try:
        emitter.wait(0)
        emitter._inotify.rm_watch(emitter._root_wd)  # as if the directory's event was lost
        (tmp_path / "30000000").mkdir()
        emitter._interpret(Event(wd=-1, mask=flags.Q_OVERFLOW, cookie=0, name=""))
        assert emitter.wait(0) == [SpoolEvent("rescan")]
        assert "30000000" in emitter._directories.values()
    finally:
        emitter.close()


def test_a_directory_renamed_in_whole_is_watched_and_listed(tmp_path: Path):
    # Spool.put_many publishes a large batch this way (spoolq.spool.batch).
    emitter = InotifyEmitter(str(tmp_path))
    try:
        emitter.wait(0)
        staging = tmp_path / ".batch-x"
        staging.mkdir()
        (staging / "30000000000001").write_text("x")
        os.rename(staging, tmp_path / "30000001")
        events = collect(emitter, lambda s: SpoolEvent("directory", "30000001") in s)
        assert SpoolEvent("directory", "30000001") in events
    finally:
        emitter.close()


def test_a_burst_larger_than_one_read_keeps_every_element_and_drops_every_lock(tmp_path: Path):
    """Thousands of events (more than one 64 KiB read) with our own locks interleaved."""
    directory = tmp_path / "10000000"
    directory.mkdir()
    emitter = InotifyEmitter(str(tmp_path))
    names = [f"1000000000{index:04x}" for index in range(3000)]
    try:
        emitter.wait(0)
        (tmp_path / "x.tmp").write_text("a")
        for name in names:
            os.link(tmp_path / "x.tmp", directory / name)
            os.link(tmp_path / "x.tmp", directory / f"{name}.lck")
        seen = collect(emitter, lambda events: len(events) >= len(names))
    finally:
        emitter.close()
    assert seen == [SpoolEvent("element", "10000000", name) for name in names]
