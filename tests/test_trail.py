"""A message's trail: each hop adds an entry, ``spoolq show`` prints them, the size stays bounded.

The round trip is run as an operator runs it: two spool roots with a node
name each, ``spoolq run`` on both (a component on B, the shippers on both)
through the tests' RabbitMQ, ``spoolq put`` on A and ``spoolq show`` of
the reply that came back to A.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from spoolq import envelope, trail
from spoolq.limits import MAX_HEADERS
from spoolq.message import Message
from spoolq.testbed.daemons import Daemon
from spoolq.testbed.shipping import root_of, unique, write_node_config
from spoolq.trail.entries import MAX_CHARS, MAX_ENTRIES, Entry, Marker
from tests.conftest import cli_env, run_cli
from tests.waiting import wait_until

HOP_LINE = r"  \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}  \+\d+\.\d{6} s"


def shown_trail(stdout: str) -> list[list[str]]:
    """The hops ``spoolq show`` printed under ``trail:``: [event, node, where] per line."""
    lines = stdout.splitlines()
    start = lines.index("trail:") + 1
    hops = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        hops.append(line.split()[-3:])
    return hops


# -- a round trip across two nodes -------------------------------------------------------------


@pytest.mark.timeout(240)
def test_a_reply_shows_every_hop_of_a_round_trip_across_two_nodes(broker, tmp_path):
    a, b = unique("node-a"), unique("node-b")
    config_a = write_node_config(tmp_path / "a", a, broker)
    config_b = write_node_config(tmp_path / "b", b, broker, top_extra='[components.pe]\nhandler = "echo"\n')
    runs = [
        Daemon(name, ["-c", str(config), "run"], tmp_path / f"run-{name}.log", cli_env())
        for name, config in (("a", config_a), ("b", config_b))
    ]
    for run in runs:
        run.start()
    try:
        for run in runs:
            wait_until(
                lambda run=run: "ready" in run.log.read_text() or run.exits() is not None,
                timeout=90,
                what=f"spoolq run on {run.name}",
            )
            assert run.exits() is None, run.log.read_text()
        put = run_cli(
            "-c", str(config_a), "put", "outgoing", "--type", "ask", "-H", f"to=pe@{b}",
            "--reply-to", f"replies@{a}", "how far is it?",
        )  # fmt: skip
        assert put.returncode == 0, put.stderr.decode()
        replies = root_of(config_a).spool("replies")
        wait_until(lambda: replies.count() == 1, timeout=120, what="the reply back on node A")
    finally:
        for run in runs:
            run.stop()
    name = next(iter(replies.names()))
    shown = run_cli("-c", str(config_a), "show", "replies", name)
    assert shown.returncode == 0, shown.stderr.decode()
    stdout = shown.stdout.decode()
    assert shown_trail(stdout) == [
        ["put", a, "spool=outgoing"],
        ["shipped", a, "shipper=out"],
        ["received", b, "spool=pe"],
        ["handled", b, "component=pe"],
        ["replied", b, "spool=outgoing"],
        ["shipped", b, "shipper=out"],
        ["received", a, "spool=replies"],
    ]
    times = [entry.when for entry in trail.parse(replies.get(name).header[trail.TRAIL])]
    assert times == sorted(times)  # one machine, one clock: each hop after the one before
    assert stdout.endswith("how far is it?\n")


def test_put_starts_the_trail_and_show_prints_it(tmp_path):
    root = tmp_path / "root"
    assert run_cli("--root", str(root), "init", "pe").returncode == 0
    put = run_cli("--root", str(root), "put", "pe", "hello")
    name = put.stdout.decode().strip()
    shown = run_cli("--root", str(root), "show", "pe", name).stdout.decode()
    [[event, node, where]] = shown_trail(shown)
    assert (event, where) == ("put", "spool=pe") and node
    as_json = json.loads(run_cli("--root", str(root), "show", "--json", "pe", name).stdout)
    assert as_json["header"]["trail"].startswith(f"put {node} spool=pe ")


def test_a_raw_body_gets_no_trail(tmp_path):
    """A body stored alone (an SSM record) stays byte for byte what was put: no header to carry a trail."""
    root = tmp_path / "root"
    run_cli("--root", str(root), "init", "pe")
    name = run_cli("--root", str(root), "put", "--raw", "pe", "APEL-summary-job-message: v0.3").stdout
    raw = run_cli("--root", str(root), "show", "--raw", "pe", name.decode().strip()).stdout
    assert raw == b"APEL-summary-job-message: v0.3"


# -- the bound -----------------------------------------------------------------------------------


def test_a_long_trail_keeps_its_first_and_latest_hops_and_counts_those_left_out():
    value = ""
    for n in range(100):
        value = trail.stamped({trail.TRAIL: value}, "shipped", "node", f"shipper=s{n}", 1_800_000_000 + n)
    items = trail.parse(value)
    assert len(items) <= MAX_ENTRIES and len(value) <= MAX_CHARS
    assert items[0].where == "shipper=s0"
    assert isinstance(items[1], Marker)
    assert items[-1].where == "shipper=s99"
    assert items[1].count + len(items) - 1 == 100  # every hop is either shown or counted
    kept = [item.where for item in items[2:]]
    assert kept == [f"shipper=s{n}" for n in range(100 - len(kept), 100)]


def test_the_bound_holds_in_characters_too():
    long_where = "spool=" + "x" * 200
    value = ""
    for n in range(30):
        value = trail.stamped({trail.TRAIL: value}, "received", "node", long_where, 1_800_000_000 + n)
    assert len(value) <= MAX_CHARS
    assert trail.parse(value)[1].count + len(trail.parse(value)) - 1 == 30


@pytest.mark.parametrize(
    "found",
    [
        "not a trail at all",
        "; ; ;",
        "x" * 70_000,
        "garbage; " * 20_000,
        "[7 hops left out]",
        "put a spool=b not-a-time",
    ],
)
def test_a_trail_written_by_someone_else_never_fails_a_message(found):
    value = trail.stamped({trail.TRAIL: found}, "put", "node", "spool=pe", 1_800_000_000.0)
    assert len(value) <= MAX_CHARS
    newest = trail.parse(value)[-1]
    assert newest == Entry("put", "node", "spool=pe", 1_800_000_000.0)
    trail.render(value)  # and it still prints


def test_a_field_never_splits_an_entry():
    value = trail.stamped({}, "put", "node with; spaces", "spool=pe", 1_800_000_000.0)
    [entry] = trail.parse(value)
    assert entry.node == "node_with__spaces"


def test_a_full_header_is_left_as_it_is():
    """A message with the most header fields allowed gets no trail rather than becoming invalid."""
    header = {f"h{n}": "v" for n in range(MAX_HEADERS)}
    assert trail.stamp(header, "put", "node", "spool=pe") == header
    envelope.decode(envelope.encode(Message("body", trail.stamp(header, "shipped", "n", "shipper=out"))))


def test_render_shows_the_time_each_hop_took():
    value = trail.extended(
        "",
        [
            Entry("put", "a", "spool=outgoing", 1_800_000_000.0),
            Entry("shipped", "a", "shipper=out", 1_800_000_000.25),
            Entry("received", "b", "spool=pe", 1_800_000_002.25),
        ],
    )
    lines = trail.render(value)
    assert lines[0].split()[2:] == ["+0.000000", "s", "put", "a", "spool=outgoing"]
    assert lines[2].split()[2:] == ["+2.250000", "s", "+2.000000", "received", "b", "spool=pe"]


def test_the_envelope_format_doc_names_the_trail():
    doc = (Path(__file__).resolve().parent.parent / "docs" / "foundation.md").read_text()
    assert "`trail`" in doc and str(MAX_ENTRIES) in doc and str(MAX_CHARS) in doc
