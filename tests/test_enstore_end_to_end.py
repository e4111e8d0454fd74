"""End to end: Disk Mover -> Policy Engine -> Dispatcher -> Workers -> archive, and back."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import time

import pytest

from spoolq.enstore import filedb
from spoolq.enstore.cachefs import cached_path
from spoolq.enstore.catalogue import dispatcher, events
from spoolq.enstore.disk_mover import CacheFile, Family
from spoolq.message import Message
from spoolq.spool.parking import iter_parked
from tests.conftest import cli_env
from tests.enstore.site import Site
from tests.enstore.tickets import written_ticket


@pytest.fixture
def site(tmp_path):
    running = Site(str(tmp_path))
    yield running
    running.stop()


def write_files(site: Site, count: int, prefix: str = "F") -> dict[str, bytes]:
    contents = {}
    for n in range(count):
        data = os.urandom(50 + n)
        site.mover.write(CacheFile(f"{prefix}{n:05d}", f"/pnfs/t/{n}", data))
        contents[f"{prefix}{n:05d}"] = data
    return contents


def archived_bytes(site: Site, file_id: str) -> bytes:
    record = filedb.locate(site.archive, file_id)
    with tarfile.open(os.path.join(site.archive, record["container"])) as tar:
        return tar.extractfile(record["member"]).read()


def cached(site: Site, file_id: str) -> str:
    return cached_path(site.mover.ticket(file_id, "", 0, site_family()))


def site_family() -> Family:
    return Family()


@pytest.mark.timeout(60)
def test_archive_purge_stage_and_delete(site):
    site.start_all()
    contents = write_files(site, 25)
    site.wait(lambda: site.archived_count() == 20, what="two full groups")
    site.mover.emit("pe", events.file_deleted({"file": {"id": "F00024", "name": "/pnfs/t/24"}}))
    site.wait(lambda: site.archived_count() == 20 and not site.root.spool("pe").count(), what="the delete")
    time.sleep(0.3)
    assert site.archived_count() == 20  # the deleted file is never archived
    assert all(archived_bytes(site, f) == contents[f] for f in list(contents)[:20])

    purged = list(contents)[:10]
    tickets = [site.mover.ticket(f, "", 0, site_family()) for f in purged]
    site.root.spool("md").put(dispatcher.purge(tickets, reply_to="test_reply"))
    site.wait(lambda: site.root.spool("test_reply").count() == 1, what="MDR_PURGED")
    (answer,) = site.messages("test_reply")
    assert answer.type == "MDR_PURGED" and dispatcher.read_reply(answer)["status"] == ["ok", ""]
    assert not any(os.path.exists(cached(site, f)) for f in purged)

    for file_id in purged[:4]:
        assert site.mover.read(file_id, "", reply_spool="reads") is None
    site.wait(lambda: site.root.spool("reads").count() == 4, what="the staged files")
    assert {m.type for m in site.messages("reads")} == {"CACHE_STAGED"}
    for file_id in purged[:4]:
        assert site.mover.read(file_id, "", reply_spool="reads") == contents[file_id]
    assert list(iter_parked(site.root, "pe")) == []


@pytest.mark.timeout(60)
def test_duplicate_cache_written_is_archived_once(site):
    site.start_all(max_files=3)
    contents = write_files(site, 2)
    site.mover.write(CacheFile("F00000", "/pnfs/t/0", contents["F00000"]))  # the same file again
    site.mover.write(CacheFile("F00002", "/pnfs/t/2", b"third"))
    site.wait(lambda: site.archived_count() == 3, what="the archive")
    time.sleep(0.3)
    containers = os.listdir(site.archive)
    assert len([c for c in containers if c.endswith(".tar")]) == 1
    with tarfile.open(os.path.join(site.archive, next(c for c in containers if c.endswith(".tar")))) as tar:
        assert sorted(tar.getnames()) == ["F00000", "F00001", "F00002"]


@pytest.mark.timeout(60)
def test_policy_engine_restarted_with_pending_groups_forgets_nothing(site):
    site.start_engine(max_files=100)
    write_files(site, 7)
    site.wait(lambda: site.root.spool("pe").count() == 0, what="the engine to take the files")
    site.stop()  # the engine goes down with seven files pending
    site.start_engine(max_files=100, max_age=0.2)
    site.start_dispatcher()
    site.start_worker("w1")
    site.wait(lambda: site.archived_count() == 7, what="the pending files to be archived")


@pytest.mark.timeout(60)
def test_corrupted_container_on_stage_is_reported_not_served(site):
    site.start_all(max_files=5)
    contents = write_files(site, 5)
    site.wait(lambda: site.archived_count() == 5, what="the archive")
    container = os.path.join(site.archive, filedb.locate(site.archive, "F00000")["container"])
    with open(container, "r+b") as handle:
        handle.seek(512 + 5)
        handle.write(b"corrupt")
    os.unlink(cached(site, "F00000"))
    assert site.mover.read("F00000", "", reply_spool="reads") is None
    site.wait(lambda: site.root.spool("reads").count() == 1, what="the answer to the read")
    (answer,) = site.messages("reads")
    assert answer.payload()["status"][0] == "STAGE_FAILED"
    assert "checksum mismatch" in answer.payload()["status"][1]
    assert not os.path.exists(cached(site, "F00000"))
    assert contents  # the other files are untouched in the cache
    assert all(os.path.exists(cached(site, f)) for f in list(contents)[1:])


def partial_containers(site: Site) -> list[str]:
    if not os.path.isdir(site.archive):
        return []
    return [n for n in os.listdir(site.archive) if ".tmp-" in n]


SLOW_HALF_COPY = (
    "import sys, time\n"
    "data = open(sys.argv[1], 'rb').read()\n"
    "out = open(sys.argv[2], 'wb'); out.write(data[: len(data) // 2]); out.flush()\n"
    "time.sleep(60)\n"
)


@pytest.mark.timeout(60)
def test_worker_killed_mid_archive_the_part_is_dispatched_again(site, tmp_path):
    config = tmp_path / "worker.toml"
    copy_command = [sys.executable, "-c", SLOW_HALF_COPY, "{src}", "{dst}"]
    config.write_text(
        "durable = false\n"
        "[components.mw_w1_work]\n"
        'handler = "migration_worker"\n'
        'spool = "mw"\n'
        "[components.mw_w1_work.options]\n"
        'worker_id = "w1"\n'
        f"archive = {json.dumps(site.archive)}\n"
        f"cache = {json.dumps(site.cache)}\n"
        f"copy_command = {json.dumps(copy_command)}\n"
    )
    argv = ["-c", str(config), "--root", site.root.path, "watch", "--component", "mw_w1_work"]
    doomed = subprocess.Popen([sys.executable, "-m", "spoolq", *argv], env=cli_env(), start_new_session=True)
    try:
        site.start_engine(max_files=10)
        site.start_dispatcher(silence=0.5)
        contents = write_files(site, 10)
        site.wait(lambda: bool(partial_containers(site)), what="the first worker to start copying")
        os.killpg(doomed.pid, signal.SIGKILL)  # the worker and its copy command
        doomed.wait()
        site.start_worker("w2")
        site.wait(lambda: site.archived_count() == 10, what="the second worker")
    finally:
        if doomed.poll() is None:
            os.killpg(doomed.pid, signal.SIGKILL)
            doomed.wait()
    finished = [n for n in os.listdir(site.archive) if n.endswith(".tar")]
    assert len(finished) == 1
    assert partial_containers(site)  # the killed copy's leftover, under a name no reader opens
    assert all(archived_bytes(site, f) == data for f, data in contents.items())


@pytest.mark.timeout(120)
def test_demo_command_runs_and_verifies(cli, tmp_path):
    done = cli("demo", "--files", "60", cwd=tmp_path, timeout=110)
    assert done.returncode == 0, done.stderr.decode()
    out = done.stdout.decode()
    assert re.search(r"^lost +0$", out, re.M) and re.search(r"^corrupted +0$", out, re.M)
    assert re.search(r"^files +60$", out, re.M)
    assert os.path.exists(tmp_path / "spool" / ".spoolq-demo")
    again = cli("demo", "--files", "20", cwd=tmp_path, timeout=110)  # wipes its own tree
    assert again.returncode == 0, again.stderr.decode()


def test_demo_refuses_to_wipe_a_directory_it_did_not_make(cli, tmp_path):
    (tmp_path / "spool" / "cache").mkdir(parents=True)
    (tmp_path / "spool" / "cache" / "precious").write_text("keep me")
    done = cli("demo", "--files", "5", cwd=tmp_path)
    assert done.returncode != 0
    assert "not a demo tree" in done.stderr.decode()
    assert (tmp_path / "spool" / "cache" / "precious").read_text() == "keep me"


@pytest.mark.timeout(90)
def test_demo_runs_beside_other_files_and_leaves_them_alone(cli, tmp_path):
    """A fresh clone has spool/README.md: the demo must run there, twice, and keep it."""
    (tmp_path / "spool").mkdir()
    (tmp_path / "spool" / "README.md").write_text("the demo's spool root")
    for _run in range(2):
        done = cli("demo", "--files", "5", cwd=tmp_path, timeout=80)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert (tmp_path / "spool" / "README.md").read_text() == "the demo's spool root"


@pytest.mark.timeout(30)
def test_a_malformed_event_is_parked_naming_the_wrong_field(site):
    site.start_engine()
    ticket = written_ticket("F0")
    del ticket["enstore"]["vc"]["storage_group"]
    site.root.spool("pe").put(Message.new("CACHE_WRITTEN", ticket, version="1.0"))
    site.wait(lambda: bool(list(iter_parked(site.root, "pe"))), what="the message to be parked")
    (parked,) = iter_parked(site.root, "pe")
    assert "'enstore.vc.storage_group' is missing" in parked.reason
