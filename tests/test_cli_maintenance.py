"""`spoolq init`, `rm` and `purge`."""

import os
import time

from spoolq import Spool
from spoolq.cli import exit_codes
from spoolq.spool import layout


def test_init_creates_the_root_and_spools(cli, tmp_path):
    root = tmp_path / "new-root"
    result = cli("--root", str(root), "init", "pe", "pe_reply")
    assert result.returncode == 0
    assert sorted(os.listdir(root)) == [".spoolq-root", "pe", "pe_reply"]


def test_init_rejects_a_bad_name(cli, root_dir):
    result = cli("--root", str(root_dir), "init", "parked")
    assert result.returncode == exit_codes.USAGE
    assert "not a valid spool name" in result.stderr.decode()


def test_rm_removes_the_named_elements(cli, root_dir):
    spool = Spool(root_dir / "pe", durable=False)
    a, b, c = spool.put("a"), spool.put("b"), spool.put("c")
    result = cli("--root", str(root_dir), "rm", "pe", a, c)
    assert result.returncode == 0
    assert result.stdout.decode().split() == [a, c]
    assert list(spool.names()) == [b]


def test_rm_missing_exits_not_found_and_still_removes_the_rest(cli, root_dir):
    spool = Spool(root_dir / "pe", durable=False)
    a = spool.put("a")
    result = cli("--root", str(root_dir), "rm", "pe", "6b041800/6b04181ed9a35e", a)
    assert result.returncode == exit_codes.NOT_FOUND
    assert "no such element" in result.stderr.decode()
    assert spool.count() == 0


def test_rm_leaves_an_element_a_consumer_holds(cli, root_dir):
    spool = Spool(root_dir / "pe", durable=False)
    held = spool.put("held")
    spool.lock(held)
    result = cli("--root", str(root_dir), "rm", "pe", held)
    assert result.returncode == exit_codes.FAILURE
    assert spool.read(held) == b"held"


def test_purge_releases_stale_locks_and_stale_temporaries(cli, root_dir):
    spool = Spool(root_dir / "pe", durable=False)
    name = spool.put("x")
    spool.lock(name)
    temporary = os.path.join(spool.path, name.split("/")[0], "6b0416a4812a0c.tmp")
    open(temporary, "w").close()
    old = time.time() - 120
    os.utime(spool.path_of(name) + layout.LOCKED_SUFFIX, (old, old))
    os.utime(temporary, (old, old))
    fresh = cli("--root", str(root_dir), "purge", "pe")
    assert fresh.returncode == 0 and spool.is_locked(name), "default ages keep 2-minute-old files"
    result = cli("--root", str(root_dir), "purge", "--max-lock-age", "60", "--max-temp-age", "60")
    assert result.returncode == 0
    assert "1 stale lock(s) released, 1 temporary file(s)" in result.stdout.decode()
    assert not spool.is_locked(name) and not os.path.exists(temporary)


def test_purge_with_nothing_to_do_is_success(cli, root_dir):
    assert cli("--root", str(root_dir), "init", "pe").returncode == 0
    assert cli("--root", str(root_dir), "purge").returncode == 0
