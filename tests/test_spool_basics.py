"""The Spool API on the real filesystem: put, list, claim, ack, release."""

from spoolq import Message, Spool


def test_put_then_claim_and_ack_empties_the_spool(tmp_path):
    spool = Spool(tmp_path / "q")
    name = spool.put(Message.new("CACHE_WRITTEN", {"file": "a"}))
    assert list(spool.names()) == [name]
    claim = spool.claim(name)
    assert claim is not None
    assert claim.message().payload() == {"file": "a"}
    assert spool.claim(name) is None, "a locked element cannot be claimed twice"
    claim.ack()
    assert spool.count() == 0


def test_released_claim_is_handed_out_again(tmp_path):
    spool = Spool(tmp_path / "q", durable=False)
    name = spool.put(b"raw bytes")
    claim = spool.claim(name)
    claim.release()
    again = spool.claim(name)
    assert again is not None and again.read() == b"raw bytes"
