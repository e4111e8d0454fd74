"""The Spool API: names, counts, stats, locking, removal, put_many, adopt, purge."""

import os
import time

import pytest

from spoolq import Message, Spool
from spoolq.errors import ElementNotFound, NotLocked
from spoolq.spool import layout


@pytest.fixture
def spool(tmp_path):
    return Spool(tmp_path / "q", durable=False)


def test_element_names_follow_the_dirq_layout(spool):
    name = spool.put("x")
    assert layout.is_element_path(name)
    directory, element = name.split("/")
    assert int(directory, 16) % spool.granularity == 0
    assert abs(layout.element_time(element) - time.time()) < 5
    assert os.listdir(os.path.join(spool.path, directory)) == [element]


def test_element_names_keeps_only_14_lowercase_hex_digits_in_order():
    elements = ["6b04883b058d4e", "00000000000000", "ffffffffffffff"]
    others = ["6b04883b058d4e.lck", "6b04883b058d5e.tmp", "6B04883B058D4E", "6b04883b058d4g", "x"]
    assert layout.element_names(elements) == elements
    assert layout.element_names(elements[:1] + others + elements[1:]) == elements
    assert layout.element_names(others) == []
    assert layout.element_names([]) == []


def test_listing_skips_odd_names_of_element_length(spool):
    name = spool.put("x")
    directory = os.path.join(spool.path, name.split("/")[0])
    for odd in ("6B04883B058D4E", "6b04883b058d4g", "6b04883b05.tmp"):
        with open(os.path.join(directory, odd), "w") as handle:
            handle.write("not an element")
    assert list(spool.names()) == [name]
    assert spool.count() == 1


def test_names_are_oldest_first_and_unique(spool):
    names = [spool.put(str(i)) for i in range(200)]
    assert list(spool.names()) == names
    assert len(set(names)) == 200
    assert spool.count() == len(spool) == 200


def test_put_many_returns_names_in_order_and_durable_by_default(tmp_path):
    spool = Spool(tmp_path / "q")
    assert spool.durable
    names = spool.put_many(Message.new("T", str(i)) for i in range(50))
    assert [spool.get(n).body for n in names] == [str(i) for i in range(50)]
    assert spool.put_many([]) == []


def test_stats_counts_ready_locked_temporary_and_bytes(spool):
    first, second = spool.put(b"12345"), spool.put(b"abc")
    spool.lock(second)
    open(os.path.join(spool.path, first.split("/")[0], "6b0416a4812a0c.tmp"), "w").close()
    stats = spool.stats()
    assert (stats.ready, stats.locked, stats.temporary, stats.bytes) == (1, 1, 1, 8)
    assert 0 <= stats.oldest_age < 5


def test_empty_spool_stats(spool):
    stats = spool.stats()
    assert (stats.ready, stats.locked, stats.temporary, stats.bytes, stats.oldest_age) == (0, 0, 0, 0, None)


def test_lock_is_exclusive_and_unlock_releases(spool):
    name = spool.put("x")
    assert spool.lock(name)
    assert spool.is_locked(name)
    assert not spool.lock(name)
    assert spool.unlock(name)
    assert not spool.unlock(name)
    assert not spool.is_locked(name)


def test_lock_of_a_missing_element_is_false(spool):
    assert not spool.lock("6b041800/6b04181ed9a35e")


def test_remove_requires_the_lock(spool):
    name = spool.put("x")
    with pytest.raises(NotLocked):
        spool.remove(name)
    assert spool.read(name) == b"x"
    spool.lock(name)
    spool.remove(name)
    assert not spool.exists(name)
    assert os.listdir(os.path.join(spool.path, name.split("/")[0])) == []


def test_bad_and_missing_names_raise_element_not_found(spool):
    with pytest.raises(ElementNotFound):
        spool.read("../../etc/passwd")
    with pytest.raises(ElementNotFound):
        spool.read("6b041800/6b04181ed9a35e")


def test_adopt_moves_a_file_in(spool, tmp_path):
    outside = tmp_path / "report.txt"
    outside.write_bytes(b"adopted")
    name = spool.adopt(outside)
    assert not outside.exists()
    assert spool.read(name) == b"adopted"


def test_claims_hands_each_element_out_once(spool):
    for i in range(5):
        spool.put(str(i))
    first = list(spool.claims())
    assert [c.message().body for c in first] == ["0", "1", "2", "3", "4"]
    assert list(spool.claims()) == []
    for claim in first:
        claim.ack()
    assert spool.count() == 0


def test_purge_unlocks_stale_locks_and_drops_stale_temporaries(spool):
    name = spool.put("x")
    spool.lock(name)
    directory = os.path.join(spool.path, name.split("/")[0])
    temporary = os.path.join(directory, "6b0416a4812a0c.tmp")
    open(temporary, "w").close()
    report = spool.purge(max_temp_age=300, max_lock_age=600)
    assert (report.unlocked, report.temporaries_removed) == (0, 0), "fresh locks and temporaries stay"
    old = time.time() - 3600
    os.utime(spool.path_of(name) + layout.LOCKED_SUFFIX, (old, old))
    os.utime(temporary, (old, old))
    report = spool.purge(max_temp_age=300, max_lock_age=600)
    assert (report.unlocked, report.temporaries_removed) == (1, 1)
    assert not spool.is_locked(name) and spool.read(name) == b"x"
    assert not os.path.exists(temporary)


def test_purge_removes_empty_directories_but_the_newest(spool):
    for directory in ("00000000", "00000001", "00000002"):
        os.mkdir(os.path.join(spool.path, directory))
    spool.put("keeps its directory")
    report = spool.purge()
    assert report.directories_removed == 3
    assert spool.count() == 1
