"""Files that are not envelopes are still messages: their bytes are the body."""

import pytest

from spoolq import Spool, envelope


@pytest.mark.parametrize(
    "data, body",
    [
        (b"APEL-summary-job-message: v0.2\nSite: X\n%%\n", "APEL-summary-job-message: v0.2\nSite: X\n%%\n"),
        (b"", ""),
        (b"\x00\x01\xfe\xff", b"\x00\x01\xfe\xff"),
        (b"[1, 2, 3]", "[1, 2, 3]"),
        (b'{"site": "X", "jobs": 3}', '{"site": "X", "jobs": 3}'),
        (b"{not json at all", "{not json at all"),
        ("plain text ünïcode".encode(), "plain text ünïcode"),
    ],
)
def test_non_envelope_bytes_become_the_body(data, body):
    message = envelope.decode(data)
    assert message.body == body
    assert dict(message.header) == {}


def test_raw_element_in_a_spool_reads_back_as_its_bytes(tmp_path):
    spool = Spool(tmp_path / "q", durable=False)
    name = spool.put(b"raw \xff bytes")
    claim = spool.claim(name)
    assert claim.message().body == b"raw \xff bytes"
    assert claim.read() == b"raw \xff bytes"
    claim.ack()
