"""`spoolq put` and `spoolq show`, run as a user runs them."""

import json

import pytest

from spoolq import Spool
from spoolq.cli import exit_codes


@pytest.fixture
def q(cli, root_dir):
    """Run spoolq against a root holding an empty spool 'pe'."""
    assert cli("--root", str(root_dir), "init", "pe").returncode == 0

    def run(*args, **kwargs):
        return cli("--root", str(root_dir), *args, **kwargs)

    run.spool = Spool(root_dir / "pe")
    return run


def test_put_with_header_options_prints_the_element_name(q):
    result = q(
        "put", "pe", "hello", "--type", "CACHE_WRITTEN", "--correlation-id", "c1",
        "--reply-to", "pe_reply", "--content-type", "text/plain", "-H", "x-site=a=b", "-H", "x_y=1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    name = result.stdout.decode().strip()
    message = q.spool.get(name)
    assert message.body == "hello"
    assert message.type == "CACHE_WRITTEN"
    assert message.correlation_id == "c1"
    assert (message.reply_to, message.content_type) == ("pe_reply", "text/plain")
    assert message.header["x-site"] == "a=b" and message.header["x_y"] == "1"
    assert message.message_id and message.header["sender"] and message.header["timestamp"]


def test_put_reads_stdin_and_files_binary_kept_exact(q, tmp_path):
    binary = bytes(range(256))
    from_stdin = q("put", "pe", "-", input=binary).stdout.decode().strip()
    path = tmp_path / "body.json"
    path.write_text('{"a": 1}')
    from_file = q("put", "pe", "--file", str(path), "--content-type", "application/json")
    assert q.spool.get(from_stdin).body == binary
    assert q.spool.get(from_file.stdout.decode().strip()).payload() == {"a": 1}


def test_put_raw_stores_the_bytes_alone(q):
    name = q("put", "--raw", "pe", "-", input=b"APEL raw\n").stdout.decode().strip()
    assert q.spool.read(name) == b"APEL raw\n"


@pytest.mark.parametrize(
    "args, code",
    [
        (("put", "nope", "x"), exit_codes.NOT_FOUND),
        (("put", "pe", "-H", "novalue"), exit_codes.USAGE),
        (("put", "pe", "x", "--file", "/nonexistent/file"), exit_codes.USAGE),
        (("put", "pe", "--file", "/nonexistent/file"), exit_codes.NOT_FOUND),
        (("put",), exit_codes.USAGE),
        (("put", "--raw", "-t", "T", "pe", "x"), exit_codes.USAGE),
    ],
)
def test_put_errors_are_one_line_with_their_exit_code(q, args, code):
    result = q(*args)
    assert result.returncode == code
    lines = result.stderr.decode().strip().splitlines()
    # One line of ours, or click's own usage message that ends in one "Error:" line.
    assert len(lines) == 1 and lines[0].startswith("spoolq: error: ") or lines[-1].startswith("Error: ")
    assert b"Traceback" not in result.stderr


def test_show_prints_headers_then_body(q):
    name = q("put", "pe", "body text", "-t", "T").stdout.decode().strip()
    out = q("show", "pe", name).stdout.decode()
    head, _, body = out.partition("\n\n")
    assert "type: T" in head.splitlines()
    assert body == "body text\n"


def test_show_raw_prints_the_element_bytes(q):
    name = q("put", "pe", "x", "-t", "T").stdout.decode().strip()
    assert q("show", "--raw", "pe", name).stdout == q.spool.read(name)


def test_show_json_is_one_object(q):
    text = q("put", "pe", "ü", "-t", "T").stdout.decode().strip()
    binary = q("put", "pe", "-", input=b"\x00\xff").stdout.decode().strip()
    shown = json.loads(q("show", "--json", "pe", text).stdout)
    assert (shown["id"], shown["header"]["type"], shown["body"], shown["text"]) == (text, "T", "ü", True)
    shown = json.loads(q("show", "--json", "pe", binary).stdout)
    assert (shown["body"], shown["text"], shown["encoding"]) == ("AP8=", False, "base64")


def test_show_missing_element_exits_not_found(q):
    result = q("show", "pe", "6b041800/6b04181ed9a35e")
    assert result.returncode == exit_codes.NOT_FOUND
    assert result.stderr.decode().count("\n") == 1
    assert "no such element" in result.stderr.decode()


def test_show_malformed_element_exits_malformed_naming_it(q):
    name = q("put", "--raw", "pe", '{"header": 3}').stdout.decode().strip()
    result = q("show", "pe", name)
    assert result.returncode == exit_codes.MALFORMED
    assert name in result.stderr.decode() and "'header'" in result.stderr.decode()


def test_show_malformed_element_suggests_raw(q):
    name = q("put", "--raw", "pe", '{"header": 3}').stdout.decode().strip()
    result = q("show", "pe", name)
    assert result.returncode == exit_codes.MALFORMED
    assert "--raw" in result.stderr.decode()


def test_show_parked_prints_the_original_message_under_the_parking_headers(q, root_dir):
    from spoolq.spool import SpoolRoot
    from spoolq.spool.parking import park

    original = b'{"header": {"type": "CACHE_WRITTEN"}, "body": "file /pnfs/a", "text": true}'
    parked = park(SpoolRoot(root_dir), "pe", original, "refused it", element="6b041698/6b0416a480e48d")
    out = q("show", "--parked", "pe", parked).stdout.decode()
    head, _, body = out.partition("\n\n")
    assert "parked-reason: refused it" in head and "type: CACHE_WRITTEN" in head
    assert body == "file /pnfs/a\n", "the original's body, not its envelope, ending in a newline"


def _on_a_terminal(args: list[str]) -> bytes:
    """Run spoolq with stdout on a pseudo-terminal; return what the terminal got."""
    import os
    import pty
    import subprocess
    import sys

    from tests.conftest import cli_env

    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "spoolq", *args], stdout=follower, stderr=subprocess.PIPE, env=cli_env()
    )
    os.close(follower)
    received = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the process closed the terminal
            break
        if not chunk:
            break
        received += chunk
    process.wait(timeout=30)
    os.close(leader)
    return received


def test_show_keeps_a_binary_body_off_a_terminal_but_pipes_it(q, root_dir):
    body = bytes(range(256))
    name = q.spool.put(body)
    assert q("show", "pe", name).stdout == b"\n" + body, "piped: no header, a blank line, the bytes"
    screen = _on_a_terminal(["--root", str(root_dir), "show", "pe", name])
    assert b"\x00" not in screen and b"\x1b" not in screen
    assert b"binary body of 256 bytes" in screen
