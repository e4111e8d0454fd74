"""`spoolq ls` and `spoolq stats`, as text and as JSON lines."""

import base64
import json

import pytest

from spoolq import Message, SpoolRoot
from spoolq.cli import exit_codes
from spoolq.spool.parking import park


@pytest.fixture
def root(root_dir):
    root = SpoolRoot(root_dir, durable=False)
    pe = root.spool("pe")
    pe.put(Message.new("CACHE_WRITTEN", "a"))
    locked = pe.put(Message.new("CACHE_MISSED", "b"))
    pe.lock(locked)
    pe.put(b'{"header": 1}')
    root.spool("md")
    park(root, "pe", b"raw original", "handler raised ValueError")
    return root


def json_lines(result):
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.decode().splitlines()]


def test_ls_json_gives_id_type_size_age_locked(cli, root):
    records = json_lines(cli("--root", root.path, "ls", "--json", "pe"))
    assert [r["type"] for r in records] == ["CACHE_WRITTEN", "CACHE_MISSED", None]
    assert [r["locked"] for r in records] == [False, True, False]
    assert records == sorted(records, key=lambda r: r["id"])
    assert all(r["size"] > 0 and 0 <= r["age"] < 60 for r in records)
    assert "'header'" in records[2]["malformed"]


def test_ls_text_is_a_table(cli, root):
    lines = cli("--root", root.path, "ls", "pe").stdout.decode().splitlines()
    assert lines[0].split() == ["id", "type", "size", "age", "locked"]
    assert lines[2].split()[1] == "CACHE_MISSED" and lines[2].split()[-1] == "yes"
    assert len(lines) == 4


def test_ls_parked_shows_reasons(cli, root):
    [record] = json_lines(cli("--root", root.path, "ls", "--parked", "--json", "pe"))
    assert record["reason"] == "handler raised ValueError"
    assert record["size"] == len(b"raw original")
    text = cli("--root", root.path, "ls", "--parked", "pe").stdout.decode()
    assert "handler raised ValueError" in text


def test_ls_of_an_empty_spool_or_empty_parked_area_is_silent_success(cli, root):
    for args in (("ls", "md"), ("ls", "--parked", "md"), ("ls", "--json", "md")):
        result = cli("--root", root.path, *args)
        assert (result.returncode, result.stdout) == (0, b"")


def test_ls_of_a_missing_spool_exits_not_found(cli, root):
    result = cli("--root", root.path, "ls", "nope")
    assert result.returncode == exit_codes.NOT_FOUND
    assert result.stderr.decode().startswith("spoolq: error: ") and result.stderr.count(b"\n") == 1


def test_stats_json_covers_every_spool(cli, root):
    records = {r["spool"]: r for r in json_lines(cli("--root", root.path, "stats", "--json"))}
    assert set(records) == {"pe", "md"}
    pe = records["pe"]
    assert (pe["ready"], pe["locked"], pe["temporary"], pe["parked"]) == (2, 1, 0, 1)
    assert pe["bytes"] > 0 and pe["oldest_age"] >= 0
    assert records["md"]["oldest_age"] is None and records["md"]["bytes"] == 0


def test_stats_text_for_named_spools(cli, root):
    lines = cli("--root", root.path, "stats", "pe").stdout.decode().splitlines()
    assert lines[0].split() == ["spool", "ready", "locked", "temporary", "parked", "oldest_age", "bytes"]
    assert lines[1].split()[:5] == ["pe", "2", "1", "0", "1"]


def test_no_root_is_a_config_error(cli, tmp_path):
    result = cli("stats", cwd=tmp_path)
    assert result.returncode == exit_codes.CONFIG
    assert "no spool root" in result.stderr.decode()


def test_root_from_environment(cli, root):
    from conftest import cli_env

    result = cli("stats", "--json", "md", env=cli_env(SPOOLQ_ROOT=root.path))
    assert json_lines(result)[0]["spool"] == "md"


def test_show_parked_gives_the_reason_and_the_original(cli, root):
    [record] = json_lines(cli("--root", root.path, "ls", "--parked", "--json", "pe"))
    shown = json.loads(cli("--root", root.path, "show", "--parked", "--json", "pe", record["id"]).stdout)
    assert shown["header"]["parked-reason"] == "handler raised ValueError"
    assert (shown["text"], shown["encoding"]) == (False, "base64")  # a parked original is kept as bytes
    assert base64.b64decode(shown["body"]) == b"raw original"
    result = cli("--root", root.path, "show", "--parked", "md", record["id"])
    assert result.returncode == exit_codes.NOT_FOUND
