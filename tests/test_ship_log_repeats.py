"""A warning that repeats is said once, then as a count: at the interval, at a flush."""

from __future__ import annotations

import logging

from spoolq.shippers.log_repeats import RepeatedWarnings

LOG = logging.getLogger("spoolq.test.repeats")


def said(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOG.name]


def test_a_repeated_warning_is_said_once_then_counted_at_the_flush(caplog):
    caplog.set_level(logging.WARNING, logger=LOG.name)
    warnings = RepeatedWarnings(LOG)
    for n in range(50):
        warnings.warning("refused", f"broker refused it (try {n})")
        warnings.warning("lost", "connection lost")  # interleaved: each key on its own
    assert said(caplog) == ["broker refused it (try 0)", "connection lost"]
    warnings.flush()
    counts = said(caplog)[2:]
    assert len(counts) == 2
    assert counts[0].startswith("broker refused it (try 49) (again 49 times in the last ")
    assert counts[1].startswith("connection lost (again 49 times in the last ")
    warnings.warning("refused", "broker refused it")  # after a flush: said in full again
    assert said(caplog)[-1] == "broker refused it"


def test_a_warning_still_repeating_after_the_interval_is_counted_then_said_again(caplog):
    caplog.set_level(logging.WARNING, logger=LOG.name)
    warnings = RepeatedWarnings(LOG, interval=0.0)  # every interval already over
    warnings.warning("k", "same words")
    warnings.warning("k", "same words")  # the first one's interval is over: said in full again
    assert said(caplog) == ["same words", "same words"]
    warnings.flush()
    assert said(caplog) == ["same words", "same words"]  # nothing left to count
