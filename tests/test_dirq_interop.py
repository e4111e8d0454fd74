"""python-dirq and spoolq share spools in both directions."""

from dirq.QueueSimple import QueueSimple

from spoolq import Message, Spool, envelope


def test_spoolq_reads_and_claims_what_dirq_adds(tmp_path):
    queue = QueueSimple(str(tmp_path / "q"), granularity=60)
    added = [queue.add(envelope.encode(Message.new("FROM_DIRQ", str(i)))) for i in range(20)]
    added.append(queue.add(b"raw bytes from dirq"))
    added.append(queue.add("text from dirq"))
    spool = Spool(tmp_path / "q", durable=False)
    assert list(spool.names()) == sorted(added)
    bodies = []
    for claim in spool.claims():
        bodies.append(claim.message().body)
        claim.ack()
    assert bodies[:20] == [str(i) for i in range(20)]
    assert bodies[20:] == ["raw bytes from dirq", "text from dirq"]
    assert spool.count() == 0 and queue.count() == 0


def test_dirq_iterates_locks_gets_and_removes_what_spoolq_puts(tmp_path):
    spool = Spool(tmp_path / "q")
    names = [spool.put(Message.new("FROM_SPOOLQ", {"n": i})) for i in range(10)]
    names += spool.put_many([b"raw one", b"raw two"])
    queue = QueueSimple(str(tmp_path / "q"))
    assert queue.count() == 12
    seen = []
    for name in queue:
        assert queue.lock(name)
        seen.append(name)
        data = queue.get(name)
        if name in names[:10]:
            assert envelope.decode(data).payload() == {"n": names.index(name)}
        else:
            assert data in (b"raw one", b"raw two")
        queue.remove(name)
    assert seen == names
    assert spool.count() == 0


def test_a_spoolq_lock_holds_against_dirq_and_back(tmp_path):
    spool = Spool(tmp_path / "q", durable=False)
    queue = QueueSimple(str(tmp_path / "q"))
    mine, theirs = spool.put("a"), queue.add(b"b")
    assert spool.lock(mine)
    assert not queue.lock(mine)
    assert queue.lock(theirs)
    assert not spool.lock(theirs)
    assert spool.is_locked(theirs)
