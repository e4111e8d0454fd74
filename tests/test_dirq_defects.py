"""python-dirq's known defects, guarded: create errors raise, races are tolerated, no silent delete.

dirq's ``add()`` retries forever on a create error other than a missing
directory, so each failing put runs in a subprocess with a timeout: a loop
fails the test instead of hanging it.
"""

import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from spoolq import Spool
from spoolq.errors import NotLocked, SpoolWriteError
from spoolq.spool import layout

REPO = Path(__file__).resolve().parent.parent
NOBODY = 65534


def run_python(code: str, timeout: float = 20) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


PUT_EXPECTING_ERROR = """
    import os, sys
    from spoolq import Spool
    from spoolq.errors import SpoolWriteError
    {prelude}
    spool = Spool({path!r}, granularity=10**6)
    spool._writer._unnamed = spool._writer._unnamed and {unnamed}
    try:
        spool.put(b"x" * 100)
    except SpoolWriteError as exc:
        print("SpoolWriteError:", exc)
    else:
        print("no error")
"""


#: Both ways a put writes: an unnamed file linked in (where the kernel can), and a ``.tmp`` renamed.
write_paths = pytest.mark.parametrize("unnamed", [True, False], ids=["unnamed", "tmp-rename"])


def visible_files(path) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, f), path) for d, _, files in os.walk(path) for f in files)


@write_paths
def test_put_without_permission_raises_instead_of_looping(unnamed):
    # Tests run as root, whom file modes do not stop: the writer drops to nobody.
    base = tempfile.mkdtemp()  # not under tmp_path: its parents are closed to other users
    try:
        os.chmod(base, 0o755)
        spool = Spool(os.path.join(base, "q"), granularity=10**6)
        os.mkdir(os.path.join(spool.path, layout.directory_name(time.time(), 10**6)), 0o555)
        prelude = f"os.setuid({NOBODY})" if os.geteuid() == 0 else ""
        result = run_python(PUT_EXPECTING_ERROR.format(prelude=prelude, path=spool.path, unnamed=unnamed))
        assert result.stdout.startswith("SpoolWriteError:"), result.stdout + result.stderr
        assert "permission denied" in result.stdout and "EACCES" in result.stdout
        assert spool.count() == 0 and spool.stats().temporary == 0
    finally:
        subprocess.run(["rm", "-rf", base], check=True)


@write_paths
def test_put_where_a_file_blocks_the_directory_raises_instead_of_looping(tmp_path, unnamed):
    spool = Spool(tmp_path / "q", granularity=10**6)
    (tmp_path / "q" / layout.directory_name(time.time(), 10**6)).write_bytes(b"in the way")
    result = run_python(PUT_EXPECTING_ERROR.format(prelude="", path=spool.path, unnamed=unnamed))
    assert result.stdout.startswith("SpoolWriteError:"), result.stdout + result.stderr
    assert "ENOTDIR" in result.stdout


@write_paths
def test_full_disk_raises_and_leaves_nothing_half_written(tiny_tmpfs, unnamed):
    spool = Spool(tiny_tmpfs / "q")
    result = run_python(
        PUT_EXPECTING_ERROR.replace("* 100", "* 200_000").format(prelude="", path=spool.path, unnamed=unnamed)
    )
    assert result.stdout.startswith("SpoolWriteError:"), result.stdout + result.stderr
    assert "no space left" in result.stdout
    assert visible_files(spool.path) == []


@write_paths
def test_a_write_cut_short_leaves_nothing_visible(tmp_path, unnamed):
    # Works without mount rights: a file size limit cuts the write short (EFBIG).
    spool = Spool(tmp_path / "q")
    prelude = (
        "import resource, signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))"
    )
    code = PUT_EXPECTING_ERROR.replace("* 100", "* 5000").format(
        prelude=prelude, path=spool.path, unnamed=unnamed
    )
    result = run_python(code)
    assert result.stdout.startswith("SpoolWriteError:"), result.stdout + result.stderr
    assert "EFBIG" in result.stdout
    assert visible_files(spool.path) == []


@write_paths
def test_filling_the_disk_keeps_every_visible_element_whole(tiny_tmpfs, unnamed):
    spool = Spool(tiny_tmpfs / "q")
    spool._writer._unnamed = spool._writer._unnamed and unnamed
    payloads = {}

    with pytest.raises(SpoolWriteError, match="no space left"):
        for i in range(1000):
            data = bytes([i % 256]) * 3000
            payloads[spool.put(data)] = data
    assert len(payloads) > 5
    assert {name: spool.read(name) for name in spool.names()} == payloads
    assert spool.stats().temporary == 0


def test_listing_and_counting_survive_directories_removed_underneath(tmp_path):
    spool = Spool(tmp_path / "q", durable=False)
    for _ in range(3):
        spool.put("kept")
    stop = threading.Event()

    def churn():
        # Another process's writer and purger: directories come and go.
        while not stop.is_set():
            for i in range(20):
                try:
                    os.mkdir(f"{spool.path}/{i:08x}")
                    with open(f"{spool.path}/{i:08x}/{i:014x}", "w"):
                        pass
                    os.unlink(f"{spool.path}/{i:08x}/{i:014x}")
                    os.rmdir(f"{spool.path}/{i:08x}")
                except OSError:
                    continue  # our own purge (below) got there first

    thread = threading.Thread(target=churn)
    thread.start()
    try:
        for _ in range(300):
            assert spool.count() >= 3
            assert sum(1 for _ in spool.names()) >= 3
            assert spool.stats().ready >= 3
            spool.purge()
    finally:
        stop.set()
        thread.join()


def test_lazy_listing_skips_a_directory_removed_mid_iteration(tmp_path):
    spool = Spool(tmp_path / "q", durable=False)
    os.mkdir(f"{spool.path}/00000001")
    with open(f"{spool.path}/00000001/00000001000000", "w"):
        pass
    os.mkdir(f"{spool.path}/00000002")
    with open(f"{spool.path}/00000002/00000002000000", "w"):
        pass
    names = spool.names()
    assert next(names) == "00000001/00000001000000"
    os.unlink(f"{spool.path}/00000002/00000002000000")
    os.rmdir(f"{spool.path}/00000002")
    assert list(names) == []


def test_removing_an_unlocked_element_deletes_nothing(tmp_path):
    spool = Spool(tmp_path / "q", durable=False)
    name = spool.put("precious")
    with pytest.raises(NotLocked):
        spool.remove(name)
    assert spool.read(name) == b"precious"
