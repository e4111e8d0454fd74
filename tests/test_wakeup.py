"""The main loops' wake-up pipe: no signal lost, pokes from other threads, nothing left behind."""

from __future__ import annotations

import os
import signal
import threading

from spoolq.daemon.wakeup import WakeupPipe


def test_a_signal_that_arrives_before_the_wait_is_not_lost():
    with WakeupPipe([signal.SIGUSR1, signal.SIGUSR2]) as wakeup:
        os.kill(os.getpid(), signal.SIGUSR1)  # the Python handler runs before the wait: it does nothing
        os.kill(os.getpid(), signal.SIGUSR2)
        received, ready = wakeup.wait(timeout=5)
    assert received == [signal.SIGUSR1, signal.SIGUSR2] and ready == []


def test_a_poke_from_another_thread_wakes_the_wait_without_a_signal():
    with WakeupPipe([signal.SIGUSR1]) as wakeup:
        poker = threading.Thread(target=wakeup.poke)
        poker.start()
        received, _ = wakeup.wait(timeout=5)
        poker.join()
    assert received == []


def test_the_wait_times_out_and_reports_other_readable_descriptors():
    read_end, write_end = os.pipe()
    try:
        with WakeupPipe([signal.SIGUSR1]) as wakeup:
            assert wakeup.wait(timeout=0.01) == ([], [])
            os.write(write_end, b"ready\n")
            assert wakeup.wait(timeout=5, fds=[read_end]) == ([], [read_end])
    finally:
        os.close(read_end)
        os.close(write_end)


def test_handlers_and_wakeup_descriptor_are_restored_and_later_pokes_do_nothing():
    before = signal.getsignal(signal.SIGUSR1)
    previous_fd = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(previous_fd)
    wakeup = WakeupPipe([signal.SIGUSR1])
    wakeup.poke()  # before the block: no pipe yet
    with wakeup:
        assert signal.getsignal(signal.SIGUSR1) is not before
    wakeup.poke()  # after it: the descriptors are closed, nothing is written anywhere
    assert signal.getsignal(signal.SIGUSR1) is before
    assert signal.set_wakeup_fd(previous_fd) == previous_fd
