"""A claim acked with a Reaper: its thread removes the element; until then it stays locked."""

import os

from spoolq import Spool
from spoolq.spool.reaper import Reaper


def test_acked_elements_stay_locked_until_removed_by_close(tmp_path):
    spool = Spool(tmp_path / "q", durable=False)
    spool.put_many([b"m%d" % i for i in range(10)])
    reaper = Reaper()
    try:
        claims = list(spool.claims())
        for claim in claims:
            claim.ack(reaper)
            assert not spool.lock(claim.name)  # not to be handed out again meanwhile
    finally:
        reaper.close()
    assert spool.count() == 0
    assert not [name for _, _, files in os.walk(spool.path) for name in files]
    assert not reaper._thread.is_alive()


def test_a_lock_already_gone_is_no_error(tmp_path):
    reaper = Reaper()
    reaper.remove(str(tmp_path / "never-there"))
    reaper.close()
    assert not reaper._thread.is_alive()
