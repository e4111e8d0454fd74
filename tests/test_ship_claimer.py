"""The shipper's Claimer: claims ahead of the sender, oldest first, and releases what it kept on close."""

import os
import time

from spoolq import Spool
from spoolq.shippers.claimer import Claimer


def take_all(claimer: Claimer, count: int, timeout: float = 10.0) -> list:
    taken, deadline = [], time.monotonic() + timeout
    while len(taken) < count and time.monotonic() < deadline:
        taken += claimer.take(count - len(taken))
        time.sleep(0.01)
    return taken


def test_claims_come_oldest_first_already_read(tmp_path):
    spool = Spool(tmp_path / "q", durable=False)
    names = [spool.put(b"m%d" % i) for i in range(20)]
    claimer = Claimer(spool, depth=5)
    try:
        claims = take_all(claimer, 20)
        assert [c.name for c in claims] == names
        assert all(c._data == b"m%d" % i for i, c in enumerate(claims))  # read by the claimer
        assert all(spool.is_locked(n) for n in names)
    finally:
        claimer.close()


def test_an_element_put_later_is_claimed_without_a_restart(tmp_path):
    spool = Spool(tmp_path / "q", durable=False)
    claimer = Claimer(spool, depth=5)
    try:
        assert claimer.take(5) == []
        name = spool.put(b"late")
        assert [c.name for c in take_all(claimer, 1)] == [name]
    finally:
        claimer.close()


def test_close_releases_the_claims_not_taken(tmp_path):
    spool = Spool(tmp_path / "q", durable=False)
    names = [spool.put(b"x") for _ in range(10)]
    claimer = Claimer(spool, depth=4)
    taken = take_all(claimer, 2)
    deadline = time.monotonic() + 5
    while sum(spool.is_locked(n) for n in names) < 6 and time.monotonic() < deadline:
        time.sleep(0.01)  # 2 taken + 4 waiting in the claimer
    claimer.close()
    assert sorted(n for n in names if spool.is_locked(n)) == sorted(c.name for c in taken)


def test_the_lock_is_dated_now_as_dirq_dates_it(tmp_path):
    spool = Spool(tmp_path / "q", durable=False)
    name = spool.put(b"old")
    path = spool.path_of(name)
    os.utime(path, (1_000_000_000, 1_000_000_000))  # written long ago
    claimer = Claimer(spool, depth=2)
    try:
        [claim] = take_all(claimer, 1)
    finally:
        claimer.close()  # releases nothing: the claim was taken
    assert claim.read() == b"old"
    assert abs(os.stat(path + ".lck").st_mtime - time.time()) < 60  # a stale-lock purge spares it


def test_a_fifo_in_the_spool_is_left_alone_and_blocks_nothing(tmp_path):
    spool = Spool(tmp_path / "q", durable=False)
    first = spool.put(b"before")
    directory = first.split("/")[0]
    elt = first.split("/")[1]
    fifo = f"{directory}/{elt[:-1]}{'0' if elt.endswith('f') else 'f'}"  # a name beside it
    os.mkfifo(spool.path_of(fifo))
    last = spool.put(b"after")
    claimer = Claimer(spool, depth=5)
    try:
        claims = take_all(claimer, 2, timeout=5)
        assert [c.name for c in claims] == [first, last]
        assert not spool.is_locked(fifo)
    finally:
        claimer.close()


def test_a_symlinked_element_takes_the_path_way(tmp_path):
    spool = Spool(tmp_path / "q", durable=False)
    name = spool.put(b"x")
    target = tmp_path / "elsewhere"
    target.write_bytes(b"linked body")
    os.unlink(spool.path_of(name))
    os.symlink(target, spool.path_of(name))
    claimer = Claimer(spool, depth=2)
    try:
        [claim] = take_all(claimer, 1)
        assert claim.name == name and claim.read() == b"linked body"
    finally:
        claimer.close()
