"""A claim acked with a LockReaper: the element goes at once, its lock in the reaper's thread."""

import os

from spoolq import Spool
from spoolq.lock_reaper import LockReaper


def test_acked_elements_vanish_at_once_and_their_locks_by_close(tmp_path):
    spool = Spool(tmp_path / "q", durable=False)
    spool.put_many([b"m%d" % i for i in range(10)])
    reaper = LockReaper()
    try:
        claims = list(spool.claims())
        for claim in claims:
            claim.ack(reaper)
            assert not os.path.exists(claim.path)  # gone for every reader before ack returns
        assert spool.count() == 0
    finally:
        reaper.close()
    assert not [name for _, _, files in os.walk(spool.path) for name in files]
    assert not reaper._thread.is_alive()


def test_a_lock_already_gone_is_no_error(tmp_path):
    reaper = LockReaper()
    reaper.remove(str(tmp_path / "never-there.lck"))
    reaper.close()
    assert not reaper._thread.is_alive()
