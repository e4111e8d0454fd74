"""Intake reads an element through one O_NOFOLLOW open: each kind of file gets the right verdict."""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

import pytest

from spoolq.component import intake
from spoolq.spool import Claim, SpoolRoot, parking
from spoolq.spool.directories import DirectoryHandles

NAME = "10000000/10000000000001"


@pytest.fixture
def spool(root: SpoolRoot):
    spool = root.spool("pe")
    (Path(spool.path) / "10000000").mkdir()
    return spool


def place(spool, data: bytes) -> Path:
    path = Path(spool.path) / NAME
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("size", [0, 1, 100, (1 << 16) - 1, 1 << 16, (1 << 16) + 1, 300_000])
def test_a_regular_file_is_read_whole_and_locked(root, spool, size):
    data = os.urandom(size)
    place(spool, data)
    verdict = intake.take(spool, root, NAME, max_size=1 << 20)
    assert verdict.claimed and verdict.data == data
    assert spool.is_locked(NAME)


@pytest.mark.parametrize("limit", [10, (1 << 16) - 1, 1 << 16, 100_000])
def test_exactly_max_size_is_taken_one_byte_more_is_parked_unread(root, spool, limit):
    place(spool, b"x" * limit)
    assert intake.take(spool, root, NAME, max_size=limit).data == b"x" * limit
    spool.remove(NAME)
    place(spool, b"x" * (limit + 1))
    verdict = intake.take(spool, root, NAME, max_size=limit)
    assert not verdict.claimed and verdict.parked
    assert not spool.exists(NAME)
    (record,) = parking.iter_parked(root, "pe")
    assert f"element of {limit + 1} bytes exceeds max_size {limit}" in record.reason


def test_an_element_locked_by_another_worker_is_not_taken(root, spool):
    place(spool, b"mine")
    assert spool.lock(NAME)
    assert intake.take(spool, root, NAME, max_size=100) is intake.TAKEN


def test_a_vanished_element_is_not_taken(root, spool):
    assert intake.take(spool, root, NAME, max_size=100) is intake.TAKEN


def test_a_fifo_is_left_alone_without_blocking(root, spool):
    os.mkfifo(Path(spool.path) / NAME)
    verdict = intake.take(spool, root, NAME, max_size=100)
    assert not verdict.claimed and verdict.reason == "not a regular file"
    assert not spool.is_locked(NAME)


def test_a_fifo_with_a_writer_is_left_alone_without_blocking(root, spool):
    path = Path(spool.path) / NAME
    os.mkfifo(path)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # lets the writer open without blocking
    writer = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    try:
        verdict = intake.take(spool, root, NAME, max_size=100)
    finally:
        os.close(writer)
        os.close(reader)
    assert not verdict.claimed and verdict.reason == "not a regular file"


def test_a_directory_is_left_alone(root, spool):
    (Path(spool.path) / NAME).mkdir()
    assert intake.take(spool, root, NAME, max_size=100).reason == "not a regular file"


def test_a_symlink_inside_the_spool_is_followed(root, spool):
    target = Path(spool.path) / "10000000" / "10000000000009"
    target.write_bytes(b"inside")
    (Path(spool.path) / NAME).symlink_to(target)
    verdict = intake.take(spool, root, NAME, max_size=100)
    assert verdict.claimed and verdict.data is None  # read through the claim, as before
    assert spool.read(NAME) == b"inside"


def test_a_symlink_outside_the_spool_is_parked_and_its_target_untouched(root, spool, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("do not read")
    before = secret.stat().st_mtime_ns
    (Path(spool.path) / NAME).symlink_to(secret)
    verdict = intake.take(spool, root, NAME, max_size=100)
    assert verdict.parked and "symlink pointing outside the spool" in verdict.reason
    assert not os.path.lexists(Path(spool.path) / NAME)
    assert secret.read_text() == "do not read" and secret.stat().st_mtime_ns == before


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_directory_removed_and_made_anew_under_a_kept_descriptor_still_yields_its_elements(root, spool):
    directory = Path(spool.path) / "10000000"
    before = open_descriptors()
    with DirectoryHandles(spool.path) as handles:
        place(spool, b"first")
        first = intake.take(spool, root, NAME, max_size=100, handles=handles)
        Claim(spool, NAME, None, first.data, first.dir_fd).ack()
        assert list(directory.iterdir()) == []
        directory.rmdir()  # as a purge removes an empty directory, while our descriptor is kept
        directory.mkdir()  # and a writer makes it again
        later = "10000000/10000000000002"
        (Path(spool.path) / later).write_bytes(b"second")
        verdict = intake.take(spool, root, later, max_size=100, handles=handles)
        assert verdict.claimed and verdict.data == b"second"
        Claim(spool, later, None, verdict.data, verdict.dir_fd).ack()
        assert list(directory.iterdir()) == []  # acked through the fresh descriptor: element and lock gone
        handles.trim()
    assert open_descriptors() == before


def test_a_claim_taken_without_kept_descriptors_acks_by_path(root, spool):
    place(spool, b"mine")
    verdict = intake.take(spool, root, NAME, max_size=100)
    assert verdict.claimed and verdict.dir_fd is None
    Claim(spool, NAME, None, verdict.data, verdict.dir_fd).ack()
    assert not spool.exists(NAME) and not spool.is_locked(NAME)


@pytest.mark.parametrize("where", ["inside", "outside"])
def test_a_dangling_symlink_is_parked_and_leaves_neither_link_nor_lock(root, spool, tmp_path, where):
    missing = Path(spool.path) / "10000000" / "1000000000000f" if where == "inside" else tmp_path / "gone"
    (Path(spool.path) / NAME).symlink_to(missing)
    verdict = intake.take(spool, root, NAME, max_size=100)
    assert verdict.parked and "symlink" in verdict.reason and str(missing) in verdict.reason
    assert os.listdir(Path(spool.path) / "10000000") == []
    assert not spool.is_locked(NAME)
    (record,) = parking.iter_parked(root, "pe")
    assert record.original == os.fsencode(missing)


@contextlib.contextmanager
def mounted_read_only(path: str):
    """``path`` bind-mounted read-only over itself (root cannot write through that either)."""
    if subprocess.run(["mount", "--bind", path, path], capture_output=True).returncode != 0:
        pytest.skip("cannot bind-mount here")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", path], check=True, capture_output=True)
        yield
    finally:
        subprocess.run(["umount", path], check=True)


def test_a_lock_refused_by_a_read_only_filesystem_leaves_the_element_in_place(root, spool):
    place(spool, b"keep me")
    with mounted_read_only(spool.path):
        verdict = intake.take(spool, root, NAME, max_size=100)
    assert not verdict.claimed and verdict.refused and not verdict.parked
    assert "read-only" in verdict.reason and "[EROFS]" in verdict.reason and "tried again" in verdict.reason
    assert (Path(spool.path) / NAME).read_bytes() == b"keep me" and not spool.is_locked(NAME)
    assert intake.take(spool, root, NAME, max_size=100).data == b"keep me"
