"""The UDP bridge with a real UDP client socket on loopback, garbage included."""

from __future__ import annotations

import ast
import json
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from spoolq.enstore.udp.proxy import UdpProxy
from spoolq.enstore.udp.tickets import TicketError, parse_ticket
from spoolq.message import Message
from spoolq.spool import SpoolRoot
from spoolq.spool.parking import iter_parked
from tests.conftest import cli_env
from tests.waiting import wait_until


@pytest.fixture
def proxy(root_dir):
    bridge = UdpProxy(SpoolRoot(root_dir, durable=False), "lmd", "lmd_udp_reply", max_size=512)
    thread = threading.Thread(target=bridge.serve, kwargs={"poll": 0.01})
    thread.start()
    yield bridge
    bridge.stop()
    thread.join(5)


@pytest.fixture
def client():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(5)
    yield sock
    sock.close()


def wait_for_message(spool, timeout=5.0) -> Message:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        names = list(spool.names())
        if names:
            claim = spool.claim(names[0])
            message = claim.message()
            claim.ack()
            return message
        time.sleep(0.01)
    raise AssertionError("no message arrived")


def answer(proxy: UdpProxy, request: Message, body: dict) -> None:
    proxy.root.spool("lmd_udp_reply").put(request.reply("REPLY", body))


def test_a_literal_ticket_becomes_a_message_and_its_reply_comes_back(proxy, client):
    ticket = {"work": "read_from_hsm", "file_size": 2**40, "vc": ("a", 1), "ok": True, "none": None}
    client.sendto(repr(ticket).encode(), proxy.address)
    request = wait_for_message(proxy.root.spool("lmd"))
    assert (request.type, request.reply_to) == ("read_from_hsm", "lmd_udp_reply")
    assert request.payload() == {**ticket, "vc": ["a", 1]}
    answer(proxy, request, {"status": ["ok", None], "work": "read_from_hsm"})
    data, _ = client.recvfrom(4096)
    assert ast.literal_eval(data.decode()) == {"status": ["ok", None], "work": "read_from_hsm"}


def test_a_json_ticket_is_answered_in_json(proxy, client):
    client.sendto(json.dumps({"work": "status"}).encode(), proxy.address)
    request = wait_for_message(proxy.root.spool("lmd"))
    answer(proxy, request, {"state": "up"})
    data, _ = client.recvfrom(4096)
    assert json.loads(data) == {"state": "up"}


@pytest.mark.parametrize(
    "garbage",
    [
        b"\xff\xfe\x00binary",
        b"__import__('os').system('touch pwned')",
        b"[1, 2, 3]",
        b"{'a': ",
        b"{" * 5000,
        b"x" * 600,
    ],
)
def test_garbage_is_counted_and_the_proxy_keeps_serving(proxy, client, garbage, tmp_path):
    client.sendto(garbage, proxy.address)
    client.sendto(b"{'work': 'after_garbage'}", proxy.address)
    request = wait_for_message(proxy.root.spool("lmd"))
    assert request.type == "after_garbage"
    # The element is visible a moment before the proxy's thread counts it.
    wait_until(lambda: proxy.counts["forwarded"] == 1)
    assert proxy.counts["malformed"] + proxy.counts["oversized"] == 1
    assert not (tmp_path / "pwned").exists()


def test_a_reply_nobody_waits_for_is_parked(proxy):
    proxy.root.spool("lmd_udp_reply").put(Message.new("REPLY", {"x": 1}, correlation_id="nobody"))
    deadline = time.monotonic() + 5
    while not list(iter_parked(proxy.root, "lmd_udp_reply")) and time.monotonic() < deadline:
        time.sleep(0.01)
    (parked,) = iter_parked(proxy.root, "lmd_udp_reply")
    assert "no request waits" in parked.reason


def test_parse_ticket_never_executes_code():
    with pytest.raises(TicketError):
        parse_ticket(b"(lambda: 1)()")
    assert parse_ticket(b"{'a': (1, 2)}") == ({"a": (1, 2)}, "literal")


def test_the_cli_bridges_until_sigterm(root_dir, client):
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "spoolq",
            "--root",
            str(root_dir),
            "udp-proxy",
            "--listen",
            "127.0.0.1:0",
            "--spool",
            "lmd",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cli_env(),
    )
    try:
        banner = process.stdout.readline().decode()
        port = int(banner.split("listening on 127.0.0.1:")[1].split(",")[0])
        client.sendto(b"not a ticket", ("127.0.0.1", port))
        client.sendto(b"{'work': 'ping'}", ("127.0.0.1", port))
        request = wait_for_message(SpoolRoot(root_dir).spool("lmd"))
        SpoolRoot(root_dir).spool("lmd_udp_reply").put(request.reply("REPLY", {"pong": 1}))
        data, _ = client.recvfrom(4096)
        assert ast.literal_eval(data.decode()) == {"pong": 1}
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err.decode()
    assert "malformed 1" in out.decode() and "replied 1" in out.decode()


def test_a_restarted_proxy_still_answers_a_request_made_before(root_dir, client):
    root = SpoolRoot(root_dir, durable=False)
    first = UdpProxy(root, "lmd", "lmd_udp_reply")
    address = first.address
    client.sendto(repr({"work": "read_from_hsm"}).encode(), address)
    first.receive_one()
    first.sock.close()  # stopped with the request still waiting
    request = wait_for_message(root.spool("lmd"))
    again = UdpProxy(root, "lmd", "lmd_udp_reply", address)
    answer(again, request, {"status": ["ok", None]})
    again.send_replies()
    data, _ = client.recvfrom(4096)
    assert ast.literal_eval(data.decode()) == {"status": ["ok", None]}
    assert len(again.waiting) == 0 and list(iter_parked(root, "lmd_udp_reply")) == []
    again.sock.close()


def test_an_unreadable_pending_request_is_dropped_not_fatal(root_dir, client):
    root = SpoolRoot(root_dir, durable=False)
    pending = root_dir / ".state" / "udp-lmd_udp_reply"
    pending.mkdir(parents=True)
    (pending / "0123456789abcdef0123456789abcdef").write_text("{not json")
    bridge = UdpProxy(root, "lmd", "lmd_udp_reply")
    assert len(bridge.waiting) == 0 and list(pending.iterdir()) == []
    bridge.sock.close()
