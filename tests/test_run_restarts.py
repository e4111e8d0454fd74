"""Restart backoff of crashed components: doubling, capped, reset after a stable run."""

from __future__ import annotations

import pytest

from spoolq.daemon import restarts
from spoolq.daemon.restarts import RestartSchedule


def test_waits_double_up_to_the_cap():
    schedule = RestartSchedule(delay=0.5, cap=3.0, stable_after=30)
    waits = [schedule.crashed("pe", ran_for=1.0) for _ in range(5)]
    assert waits == [(0.5, 1), (1.0, 2), (2.0, 3), (3.0, 4), (3.0, 5)]


def test_a_stable_run_starts_the_count_again():
    schedule = RestartSchedule(delay=0.5, cap=60, stable_after=30)
    schedule.crashed("pe", ran_for=1.0)
    schedule.crashed("pe", ran_for=1.0)
    assert schedule.crashed("pe", ran_for=31.0) == (0.5, 1)


def test_components_are_counted_apart():
    schedule = RestartSchedule(delay=1.0)
    schedule.crashed("pe", ran_for=0)
    assert schedule.crashed("archive", ran_for=0) == (1.0, 1)


def test_only_due_restarts_are_taken(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(restarts.time, "monotonic", lambda: clock[0])
    schedule = RestartSchedule(delay=0.05, cap=10)
    schedule.crashed("soon", ran_for=0)
    for _ in range(8):
        schedule.crashed("late", ran_for=0)  # 0.05 * 2**7 = 6.4 s
    assert schedule.take_due() == []
    assert schedule.seconds_to_next() == pytest.approx(0.05)
    clock[0] += 0.06
    assert schedule.take_due() == ["soon"]
    assert schedule.pending("late") and not schedule.pending("soon")
    schedule.cancel("late")
    assert schedule.seconds_to_next() is None
