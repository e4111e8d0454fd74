"""Bad input parks or is ignored with a logged reason, and the component keeps serving."""

from __future__ import annotations

import logging
import os
import subprocess
import time
from pathlib import Path

import pytest
from watch_helpers import recorded

from spoolq.config import ComponentConfig
from spoolq.message import Message
from spoolq.spool import SpoolRoot, parking
from tests.waiting import wait_until


@pytest.fixture
def serve(root_dir: Path, tmp_path: Path, serving):
    """Start a recording component with max_size 1 MB; (root, spool, record file)."""
    root = SpoolRoot(root_dir, granularity=1)
    log = tmp_path / "seen"
    config = ComponentConfig(
        name="pe",
        spool="pe",
        handler="tests.watch_handlers:record_body",
        options={"record": str(log)},
        max_size=1 << 20,
    )
    serving(config, root)
    return root, root.spool("pe"), log


def drop(spool, name: str, data: bytes, sparse_size: int = 0) -> Path:
    """Write an element the way any program may: temporary, then rename."""
    directory = Path(spool.path) / "10000000"
    directory.mkdir(exist_ok=True)
    (directory / (name + ".tmp")).write_bytes(data)
    if sparse_size:
        os.truncate(directory / (name + ".tmp"), sparse_size)  # sparse: cheap to make
    os.rename(directory / (name + ".tmp"), directory / name)
    return directory / name


def still_serving(root, spool, log) -> None:
    spool.put(Message.new("PING", "still here"))
    wait_until(lambda: f"str:{b'still here'.hex()}" in recorded(log), what="a good message after the bad one")


def parked_reasons(root) -> list[str]:
    return [p.reason for p in parking.iter_parked(root, "pe")]


def test_invalid_json_envelope_is_parked_with_the_reason(serve):
    root, spool, log = serve
    drop(spool, "10000000000001", b'{"header": {"type": "X"}, "body": ')
    wait_until(lambda: parked_reasons(root), what="the malformed envelope parked")
    (parked,) = parking.iter_parked(root, "pe")
    assert "not valid JSON" in parked.reason
    assert parked.original == b'{"header": {"type": "X"}, "body": '
    still_serving(root, spool, log)


def test_binary_garbage_is_handled_as_a_raw_bytes_body(serve):
    root, spool, log = serve
    garbage = bytes(range(256)) * 4
    drop(spool, "10000000000002", garbage)
    wait_until(lambda: f"bytes:{garbage.hex()}" in recorded(log), what="the garbage handled as bytes")
    assert parked_reasons(root) == []


def test_element_over_max_size_is_parked_unread_and_kept(serve, root_dir):
    root, spool, log = serve
    big = drop(spool, "10000000000003", b"", sparse_size=5 << 20)
    wait_until(lambda: parked_reasons(root) and not big.exists(), what="the oversize element parked")
    (reason,) = parked_reasons(root)
    assert "exceeds max_size 1048576" in reason
    aside = root_dir / "parked" / "pe" / "oversize" / "10000000-10000000000003"
    assert aside.stat().st_size == 5 << 20
    still_serving(root, spool, log)


def test_symlink_pointing_outside_the_spool_is_parked_not_read(serve, tmp_path):
    root, spool, log = serve
    secret = tmp_path / "secret"
    secret.write_text("do not read")
    directory = Path(spool.path) / "10000000"
    directory.mkdir(exist_ok=True)
    (directory / "10000000000004").symlink_to(secret)
    link = directory / "10000000000004"
    wait_until(lambda: parked_reasons(root) and not os.path.lexists(link), what="the symlink parked")
    (parked,) = parking.iter_parked(root, "pe")
    assert "symlink pointing outside the spool" in parked.reason
    assert parked.original == os.fsencode(secret)
    assert secret.read_text() == "do not read"
    still_serving(root, spool, log)


def test_name_that_is_not_14_hex_digits_is_ignored_and_logged_once(serve, caplog):
    root, spool, log = serve
    caplog.set_level(logging.WARNING, logger="spoolq.component")
    drop(spool, "not-an-element", b"hello")
    wait_until(lambda: "must be 14 hex digits" in caplog.text, what="the odd name logged")
    still_serving(root, spool, log)
    assert (Path(spool.path) / "10000000" / "not-an-element").exists()
    assert caplog.text.count("not-an-element") == 1
    assert parked_reasons(root) == []


def test_100_mb_element_over_the_default_limit_is_parked_unread(root_dir, serving):
    root = SpoolRoot(root_dir, granularity=1)
    serving(ComponentConfig(name="pe", spool="pe", handler="noop"), root)  # default max_size: 64 MiB
    drop(root.spool("pe"), "10000000000005", b"", sparse_size=100 << 20)
    wait_until(lambda: parked_reasons(root), what="the 100 MB element parked")
    assert "exceeds max_size 67108864" in parked_reasons(root)[0]


def test_directory_with_an_element_name_is_ignored_and_logged(serve, caplog):
    root, spool, log = serve
    caplog.set_level(logging.WARNING, logger="spoolq.component")
    staged = Path(spool.path) / "staging"  # built aside, then moved in whole: listed at once
    (staged / "10000000000006").mkdir(parents=True)
    os.rename(staged, Path(spool.path) / "10000001")
    wait_until(lambda: "not a regular file" in caplog.text, what="the odd directory logged")
    still_serving(root, spool, log)


def test_an_element_on_a_read_only_mount_is_logged_once_kept_and_handled_once_writable(
    root_dir, tmp_path, serving, caplog
):
    root = SpoolRoot(root_dir, granularity=1)
    log = tmp_path / "seen"
    config = ComponentConfig(
        name="pe", spool="pe", handler="tests.watch_handlers:record_body", options={"record": str(log)}
    )
    spool = root.spool("pe")
    stuck = drop(spool, "10000000000007", b"on a read-only mount")
    directory = str(stuck.parent)
    if subprocess.run(["mount", "--bind", directory, directory], capture_output=True).returncode != 0:
        pytest.skip("cannot bind-mount here")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", directory], check=True)
        with caplog.at_level(logging.INFO, logger="spoolq"):
            serving(config, root, rescan_interval=0.3)
            still_serving(root, spool, log)  # the worker keeps going beside the stuck element
            wait_until(lambda: "[EROFS]" in caplog.text, what="the refused lock logged")
            time.sleep(1)  # a few rescans: still one line
    finally:
        # Writable again at once, then detached: the component holds the directory open.
        subprocess.run(["mount", "-o", "remount,rw,bind", directory], check=True)
        subprocess.run(["umount", "--lazy", directory], check=True)
    lines = [r for r in caplog.records if "[EROFS]" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None
    assert "read-only" in lines[0].getMessage() and "10000000/10000000000007" in lines[0].getMessage()
    assert "retried once its lock is stale" not in caplog.text
    wait_until(lambda: f"str:{b'on a read-only mount'.hex()}" in recorded(log), what="handled once writable")
