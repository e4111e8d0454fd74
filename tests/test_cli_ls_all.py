"""`spoolq ls` with no spool lists every spool, `ls --parked` every parked message; filters and a limit."""

from __future__ import annotations

import json
import os
import time

import pytest

from spoolq import Message, SpoolRoot, envelope
from spoolq.cli import exit_codes
from spoolq.spool.parking import PARKED_AT, park


@pytest.fixture
def root(root_dir):
    root = SpoolRoot(root_dir, durable=False)
    root.spool("pe").put_many([Message.new("CACHE_WRITTEN", "a"), Message.new("CACHE_MISSED", "b")])
    root.spool("md").put(Message.new("CACHE_WRITTEN", "c"))
    root.spool("empty")
    park(root, "pe", envelope.encode(Message.new("CACHE_WRITTEN", "d")), "no handler for CACHE_WRITTEN")
    park(root, "md", b"not json {", "handler raised ValueError: bad")
    return root


def records(cli, root, *args):
    result = cli("--root", root.path, "ls", "--json", *args)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.decode().splitlines()]


def test_ls_without_a_spool_lists_every_spool_with_a_spool_column(cli, root):
    listed = records(cli, root)
    assert [(r["spool"], r["type"]) for r in listed] == [
        ("md", "CACHE_WRITTEN"),
        ("pe", "CACHE_WRITTEN"),
        ("pe", "CACHE_MISSED"),
    ]
    lines = cli("--root", root.path, "ls").stdout.decode().splitlines()
    assert lines[0].split() == ["spool", "id", "type", "size", "age", "locked"] and len(lines) == 4


def test_ls_parked_without_a_spool_lists_every_parked_message(cli, root):
    listed = records(cli, root, "--parked")
    assert [(r["spool"], r["reason"]) for r in listed] == [
        ("md", "handler raised ValueError: bad"),
        ("pe", "no handler for CACHE_WRITTEN"),
    ]
    header = cli("--root", root.path, "ls", "--parked").stdout.decode().splitlines()[0]
    assert header.split() == ["spool", "id", "type", "size", "age", "attempts", "reason"]


def test_filters_by_type_reason_and_limit(cli, root):
    assert [r["spool"] for r in records(cli, root, "--type", "CACHE_WRITTEN")] == ["md", "pe"]
    assert [r["spool"] for r in records(cli, root, "--parked", "--reason", "ValueError")] == ["md"]
    assert len(records(cli, root, "--limit", "2")) == 2
    assert records(cli, root, "--limit", "0") == []
    [only] = records(cli, root, "pe", "--type", "CACHE_MISSED")
    assert "spool" not in only and only["type"] == "CACHE_MISSED"  # a named spool keeps its columns


def test_filters_by_age(cli, root):
    spool = root.spool("old")
    name = f"{int(time.time()) - 7200:08x}"
    os.makedirs(os.path.join(spool.path, name))
    with open(os.path.join(spool.path, name, f"{int(time.time()) - 7200:08x}000000"), "wb") as handle:
        handle.write(envelope.encode(Message.new("OLD", "x")))
    assert [r["type"] for r in records(cli, root, "--older-than", "3600")] == ["OLD"]
    assert "OLD" not in [r["type"] for r in records(cli, root, "--newer-than", "3600")]
    record = root.parked("pe").get(next(root.parked("pe").names()))
    assert float(record.header[PARKED_AT]) > time.time() - 60
    assert records(cli, root, "--parked", "--older-than", "3600") == []
    assert len(records(cli, root, "--parked", "--newer-than", "3600")) == 2


def test_bad_filters_are_usage_errors_that_say_why(cli, root):
    cases = {
        ("--reason", "x"): "--reason filters parked messages: add --parked",
        ("--limit", "-1"): "-1 is not in the range x>=0",
        ("--older-than", "soon"): "'soon' is not a valid float",
    }
    for args, why in cases.items():
        result = cli("--root", root.path, "ls", "pe", *args)
        assert result.returncode == exit_codes.USAGE and why in result.stderr.decode(), args
