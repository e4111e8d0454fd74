"""Owner files: a live owner is seen live, a dead one's noted claims are read once, then the file goes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from spoolq.spool.owners import Ownership

IN_HAND = "00000001/0000000000000a"
CLAIMED = ["00000001/0000000000000a", "00000001/0000000000000b"]


def owner_dying_with_claims(root_path: str) -> None:
    """A process that registers, notes two claims and one in hand, then dies by os._exit."""
    script = textwrap.dedent(
        f"""
        import os
        from spoolq.spool.owners import Ownership
        ledger = Ownership({root_path!r}, "pe", slots=2).ledger()
        ledger.claimed({CLAIMED!r})
        ledger.handling({IN_HAND!r})
        os._exit(1)
        """
    )
    subprocess.run([sys.executable, "-c", script], check=False)


def test_a_live_owner_is_seen_live(tmp_path):
    live = Ownership(str(tmp_path), "pe", slots=1)
    looking = Ownership(str(tmp_path), "pe")
    assert [owner for _path, owner in looking.others()] == [None]
    live.close()
    looking.close()
    assert os.listdir(tmp_path / ".state" / "owners" / "pe") == []


def test_a_dead_owners_claims_are_read_once_and_its_file_removed(tmp_path):
    owner_dying_with_claims(str(tmp_path))
    successor = Ownership(str(tmp_path), "pe")
    (dead,) = [owner for _path, owner in successor.others()]
    assert dead.in_hand == (IN_HAND,) and dead.claimed == tuple(CLAIMED)
    assert list(successor.others()) == []  # taken over: nobody takes it over again
    assert os.listdir(tmp_path / ".state" / "owners" / "pe") == [os.path.basename(successor.path)]


def test_a_released_slot_notes_nothing(tmp_path):
    ownership = Ownership(str(tmp_path), "pe", slots=1)
    ledger = ownership.ledger()
    ledger.claimed(CLAIMED)
    ledger.handling(IN_HAND)
    ledger.handled()
    ledger.released()
    ownership.close()  # nothing held: the file goes
    assert os.listdir(tmp_path / ".state" / "owners" / "pe") == []


def test_a_closed_owner_holding_claims_leaves_them_to_a_successor(tmp_path):
    ownership = Ownership(str(tmp_path), "pe", slots=1)
    ownership.ledger().claimed(CLAIMED)
    ownership.close()
    (dead,) = [owner for _path, owner in Ownership(str(tmp_path), "pe").others()]
    assert dead.claimed == tuple(CLAIMED) and dead.in_hand == ()
