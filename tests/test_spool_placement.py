"""A spool asks the filesystem to spread its new directories (ext4's "top directory" hint)."""

import os
import shutil
import subprocess
import tempfile

import pytest

from spoolq import Spool
from spoolq.spool import placement
from spoolq.spool.batch import DIRECTORY_BATCH_MIN


@pytest.fixture
def spreading_fs(tmp_path):
    """``tmp_path``, where the filesystem takes the attribute (ext4 does; tmpfs does not)."""
    probe = tmp_path / "probe"
    probe.mkdir()
    if not placement.spread_subdirectories(str(probe)):
        pytest.skip("this filesystem has no 'top directory' attribute")
    return tmp_path


def test_a_new_spool_directory_spreads_from_its_first_write(spreading_fs):
    spool = Spool(spreading_fs / "q")
    assert not placement.spreads_subdirectories(spool.path)  # readers leave the spool as it was
    name = spool.put(b"one")
    assert placement.spreads_subdirectories(spool.path)
    # The hint is not inherited: an intermediate directory holds files, not trees.
    assert not placement.spreads_subdirectories(f"{spool.path}/{name.split('/')[0]}")


def test_a_batch_sets_it_too(spreading_fs):
    spool = Spool(spreading_fs / "q")
    names = spool.put_many([b"x"] * DIRECTORY_BATCH_MIN)
    assert placement.spreads_subdirectories(spool.path)
    assert not placement.spreads_subdirectories(f"{spool.path}/{names[0].split('/')[0]}")


needs_e2fsprogs = pytest.mark.skipif(
    not (shutil.which("lsattr") and shutil.which("chattr")), reason="no lsattr and chattr (e2fsprogs)"
)


@needs_e2fsprogs
def test_lsattr_shows_what_spoolq_set(spreading_fs):
    spool = Spool(spreading_fs / "q")
    spool.put(b"one")
    shown = subprocess.run(["lsattr", "-d", spool.path], capture_output=True, text=True, check=True)
    assert "T" in shown.stdout.split()[0]


@needs_e2fsprogs
def test_other_attributes_are_kept(spreading_fs):
    path = spreading_fs / "q"
    path.mkdir()
    subprocess.run(["chattr", "+d", str(path)], check=True)  # nodump: any flag the owner may set
    assert placement.spread_subdirectories(str(path))
    shown = subprocess.run(["lsattr", "-d", str(path)], capture_output=True, text=True, check=True)
    assert {"d", "T"} <= set(shown.stdout.split()[0])


@pytest.fixture
def shm_dir():
    """A directory on tmpfs, which has no such attribute."""
    if not os.path.isdir("/dev/shm"):
        pytest.skip("no /dev/shm")
    path = tempfile.mkdtemp(prefix="spoolq-test-", dir="/dev/shm")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_where_the_filesystem_cannot_nothing_changes(shm_dir):
    spool = Spool(os.path.join(shm_dir, "q"))
    assert not placement.spread_subdirectories(spool.path)
    spool.put_many([b"x"] * DIRECTORY_BATCH_MIN)
    assert spool.put(b"y") and spool.count() == DIRECTORY_BATCH_MIN + 1


def test_a_missing_directory_is_a_quiet_no(tmp_path):
    assert not placement.spread_subdirectories(str(tmp_path / "absent"))
    assert not placement.spread_subdirectories(os.devnull)
