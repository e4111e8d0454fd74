"""put_many: a large batch appears at once as a new intermediate directory; a small one element by element."""

import os
import subprocess
import sys
import time

import pytest
from dirq.QueueSimple import QueueSimple

from spoolq import Spool
from spoolq.errors import SpoolWriteError
from spoolq.spool import element, layout
from spoolq.spool.batch import BATCH_PREFIX, DIRECTORY_BATCH_MIN


def entries(spool: Spool) -> list[str]:
    return sorted(os.listdir(spool.path))


def test_a_large_batch_is_one_new_directory_in_order(tmp_path):
    spool = Spool(tmp_path / "q")
    before = spool.put(b"first")
    names = spool.put_many(b"%d" % i for i in range(DIRECTORY_BATCH_MIN))
    directories = {name.split("/")[0] for name in names}
    assert len(directories) == 1 and directories != {before.split("/")[0]}
    assert layout.is_directory_name(directories.pop())
    assert [spool.read(n) for n in names] == [b"%d" % i for i in range(DIRECTORY_BATCH_MIN)]
    assert list(spool.names()) == [before, *names]  # sorts after what was there
    assert not [e for e in entries(spool) if e.startswith(BATCH_PREFIX)]


def test_batches_and_puts_keep_their_order(tmp_path):
    spool = Spool(tmp_path / "q", durable=False)
    first = spool.put_many([b"a"] * 40)
    middle = spool.put(b"b")
    last = spool.put_many([b"c"] * 40)
    assert len({n.split("/")[0] for n in first + last}) == 2
    assert list(spool.names()) == sorted(first + [middle] + last)
    assert [spool.read(n) for n in spool.names()] == [b"a"] * 40 + [b"b"] + [b"c"] * 40


def test_a_small_batch_goes_into_the_current_directory(tmp_path):
    spool = Spool(tmp_path / "q", granularity=10**6)
    names = spool.put_many([b"x"] * (DIRECTORY_BATCH_MIN - 1))
    assert {n.split("/")[0] for n in names} == {layout.directory_name(time.time(), spool.granularity)}


def test_python_dirq_reads_and_removes_a_batch(tmp_path):
    spool = Spool(tmp_path / "q")
    spool.put_many(b"m%d" % i for i in range(50))
    queue, got = QueueSimple(spool.path), []
    for name in queue:
        if queue.lock(name):
            got.append(queue.get(name))
            queue.remove(name)
    assert got == [b"m%d" % i for i in range(50)]


def test_a_stale_staging_directory_is_purged_and_a_fresh_one_kept(tmp_path):
    spool = Spool(tmp_path / "q")
    stale, fresh = tmp_path / "q" / f"{BATCH_PREFIX}dead", tmp_path / "q" / f"{BATCH_PREFIX}busy"
    for staging in (stale, fresh):
        staging.mkdir()
        (staging / "00000001000000").write_bytes(b"never published")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    assert spool.stats().temporary == 2 and spool.count() == 0
    report = spool.purge(max_temp_age=300)
    assert report.temporaries_removed == 1
    assert not stale.exists() and fresh.exists()


def test_a_full_disk_mid_batch_leaves_nothing_visible(tiny_tmpfs):
    spool = Spool(tiny_tmpfs / "q")
    with pytest.raises(SpoolWriteError, match="no space left"):
        spool.put_many([b"x" * 4000] * 100)
    assert entries(spool) == []
    assert spool.put(b"fits again") and spool.count() == 1


def test_a_put_whose_directory_is_purged_after_open_still_lands(tmp_path):
    # RACE: an unnamed file does not keep its directory from looking empty to a purge.
    spool = Spool(tmp_path / "q")
    if not spool._writer._unnamed:
        pytest.skip("this filesystem cannot create unnamed files")
    directory = spool.put(b"warm up").split("/")[0]
    for name in list(spool.names()):
        os.unlink(f"{spool.path}/{name}")
    fd = os.open(f"{spool.path}/{directory}", element.O_UNNAMED, 0o666)
    try:
        os.write(fd, b"survivor")
        os.rmdir(f"{spool.path}/{directory}")
        name = spool._writer._link_unnamed(fd, directory, time.time())
    finally:
        os.close(fd)
    assert spool.read(name) == b"survivor"


def test_a_small_batch_failing_part_way_removes_what_it_wrote(tiny_tmpfs):
    spool = Spool(tiny_tmpfs / "q")
    with pytest.raises(SpoolWriteError, match="no space left"):
        spool.put_many([b"x" * 24 * 1024] * 5)  # 64 KiB: room for two, not for five
    assert spool.count() == 0 and spool.stats().temporary == 0
    leftovers = [name for d in spool.directories() for name in os.listdir(f"{spool.path}/{d}")]
    assert leftovers == []
    assert spool.put_many([b"fits again"] * 2) and spool.count() == 2


def test_a_large_batch_follows_the_umask_as_single_puts_do(tmp_path):
    previous = os.umask(0o022)
    try:
        spool = Spool(tmp_path / "q", granularity=3600)
        single = spool.put(b"x")
        (first, *_) = spool.put_many([b"a"] * DIRECTORY_BATCH_MIN)
    finally:
        os.umask(previous)
    mode_of = lambda path: os.stat(path).st_mode & 0o777  # noqa: E731
    assert first[:8] != single[:8]  # the batch is a directory of its own
    assert mode_of(f"{spool.path}/{first[:8]}") == mode_of(f"{spool.path}/{single[:8]}") == 0o755
    assert mode_of(f"{spool.path}/{first}") == mode_of(f"{spool.path}/{single}") == 0o644


def test_temporaries_of_a_writer_that_died_are_purged_at_once_and_a_live_ones_kept(tmp_path):
    spool = Spool(tmp_path / "q")
    leave_debris = (
        "import os, sys; from spoolq import Spool; s = Spool(sys.argv[1]); "
        "s._writer._write_temporary(b'half', sync=False); s._writer._batches._make_staging(); os._exit(9)"
    )
    died = subprocess.run([sys.executable, "-c", leave_debris, spool.path], check=False)
    assert died.returncode == 9
    assert spool.stats().temporary == 1 and any(e.startswith(BATCH_PREFIX) for e in entries(spool))
    _, mine = spool._writer._write_temporary(b"being written", sync=False)  # a live writer: this process
    report = spool.purge(max_temp_age=300, max_lock_age=0)
    assert report.temporaries_removed == 1  # the dead writer's .tmp (its staging directory was empty)
    assert not any(e.startswith(BATCH_PREFIX) for e in entries(spool))
    assert os.path.exists(mine)
