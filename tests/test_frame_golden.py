"""Every element sends the same SEND frame, byte for byte, as the table recorded.

``tests/golden/send_frames.jsonl`` holds, for 83 hand-made elements (the
common envelopes, binary and compressed bodies, owned and odd header names,
headers no frame can carry, full headers, long trails, raw bodies, and
envelopes broken in every way the decoder words) and every file of
``tests/corpus``, what ``StompShipper._frame`` made of it: the destination,
the frame body and the headers in their order, or the reason it was parked.
It was recorded from the shipper before its per-send work was made cheaper:
anything that work changes on the wire, or in what is parked and why, fails
here.  Each element goes through a real spool and claim, as ``spoolq ship``
takes it, to a shipper that routes by ``to`` and to one with a fixed
address on a quorum queue.

What varies between runs is made comparable: the time of the ``shipped``
trail entry reads ``TIME`` (it is checked to be now), the receipt reads
``RECEIPT``, the ``empa-id`` (the element's name, checked) ``ELEMENT``; a
body over 4 KiB and a header value over 512 characters are compared by their
SHA-256.  ``python tests/test_frame_golden.py`` writes the outcomes again
from the code as it is, for a deliberate change of the wire only.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from spoolq import SpoolRoot
from spoolq.shippers.broker_config import BrokerConfig
from spoolq.shippers.config import DestinationConfig, ShipperConfig
from spoolq.shippers.stomp import StompShipper
from spoolq.spool.parking import iter_parked

HERE = Path(__file__).parent
TABLE = [json.loads(line) for line in (HERE / "golden" / "send_frames.jsonl").read_text().splitlines()]
SHIPPED = re.compile(r"(shipped node-a shipper=golden )(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)")


def shipper(root: SpoolRoot, address: str, queue_type: str) -> StompShipper:
    config = ShipperConfig(name="golden", kind="ship", destination="d", spool="outgoing")
    destination = DestinationConfig(name="d", broker="b", address=address, queue_type=queue_type)
    return StompShipper(
        root, config, destination, BrokerConfig(name="b", hosts=(("127.0.0.1", 1),)), node="node-a"
    )


def element_of(record: dict) -> bytes:
    if record.get("corpus"):
        data = (HERE / "corpus" / record["corpus"]).read_bytes()
        assert _comparable(data) == record["element"], f"{record['corpus']} changed since the table was made"
        return data
    return base64.b64decode(record["element"])  # made here: kept whole


def _comparable(data: bytes) -> str | dict:
    return (
        base64.b64encode(data).decode() if len(data) <= 4096 else {"sha256": hashlib.sha256(data).hexdigest()}
    )


def _value(value: str) -> str:
    return value if len(value) <= 512 else "sha256:" + hashlib.sha256(value.encode()).hexdigest()


def _times(text: str, before: float, after: float) -> str:
    """``text`` with each ``shipped`` entry's time checked to be within [before, after] and read as TIME."""
    for stamp in SHIPPED.findall(text):
        when = datetime.strptime(stamp[1], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()
        assert before - 1e-6 <= when <= after + 1e-6, f"shipped at {stamp[1]}, not now"
    return SHIPPED.sub(r"\1TIME", text)


def sent(sender: StompShipper, root: SpoolRoot, data: bytes) -> dict:
    """What ``sender`` makes of ``data`` put in its spool: the frame made comparable, or why it was parked."""
    spool = root.spool("outgoing")
    name = spool.put(data)
    claim = spool.claim(name)
    before = time.time()
    frame = sender._frame(claim)
    after = time.time()
    if frame is None:
        return {"parked": next(item.reason for item in iter_parked(root, "outgoing") if item.element == name)}
    claim.ack()
    destination, body, headers = frame
    assert re.fullmatch(rf"{sender.status.pid}-\d+", headers["receipt"])
    assert headers["empa-id"] == name
    varying = {"receipt": "RECEIPT", "empa-id": "ELEMENT"}
    pairs = [
        [key, varying.get(key) or _value(_times(value, before, after))] for key, value in headers.items()
    ]
    body = _times(body.decode("latin-1"), before, after).encode("latin-1")  # bytes, any of them
    comparable = (
        base64.b64encode(body).decode() if len(body) <= 4096 else {"sha256": hashlib.sha256(body).hexdigest()}
    )
    return {"destination": destination, "headers": pairs, "body": comparable}


def both_shippers(root: SpoolRoot) -> dict[str, StompShipper]:
    """One shipper that routes by ``to``, one with a fixed address on a quorum queue."""
    routed = shipper(root, "/queue/spoolq.{node}", "classic")
    return {"routed": routed, "fixed": shipper(root, "/queue/apel", "quorum")}


@pytest.fixture(scope="module")
def senders(tmp_path_factory):
    root = SpoolRoot(str(tmp_path_factory.mktemp("golden")))
    return root, both_shippers(root)


def test_the_table_covers_frames_and_parkings():
    outcomes = [record[label] for record in TABLE for label in ("routed", "fixed")]
    assert len(TABLE) >= 120
    assert sum("parked" in outcome for outcome in outcomes) >= 60
    assert sum("parked" not in outcome for outcome in outcomes) >= 120


@pytest.mark.parametrize("number", range(len(TABLE)), ids=lambda n: TABLE[n].get("corpus") or f"element-{n}")
def test_an_element_sends_the_frame_recorded(senders, number):
    root, by_label = senders
    record = TABLE[number]
    data = element_of(record)
    for label, sender in by_label.items():
        assert sent(sender, root, data) == record[label], label


def record() -> None:
    """Write the table's outcomes again from the code as it is: only for a deliberate change of the wire."""
    import tempfile

    with tempfile.TemporaryDirectory() as path:
        root = SpoolRoot(path)
        by_label = both_shippers(root)
        lines = []
        for record in TABLE:
            data = element_of(record)
            record.update({label: sent(sender, root, data) for label, sender in by_label.items()})
            lines.append(json.dumps(record, ensure_ascii=True, separators=(",", ":")) + "\n")
    (HERE / "golden" / "send_frames.jsonl").write_text("".join(lines))


if __name__ == "__main__":
    record()
