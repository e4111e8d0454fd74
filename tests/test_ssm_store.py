"""``ssm_store``: spoolq's receiver writing APEL SSM's incoming and reject stores with dirq's ``Queue``."""

from __future__ import annotations

import pytest
from dirq.queue import Queue

from spoolq.errors import ConfigError
from spoolq.shippers import build_shipper
from spoolq.shippers.config import load_shipping
from spoolq.shippers.ssm_store import INCOMING_SCHEMA, REJECT_SCHEMA, SsmStore
from spoolq.testbed.shipping import root_of, write_node_config


def read(path, schema) -> list[dict]:
    store = Queue(str(path), schema=schema)
    items = []
    for name in store:
        assert store.lock(name)
        items.append(store.get(name))
    return items


def test_accepted_and_refused_messages_read_back_with_ssms_schemas(tmp_path):
    store = SsmStore(str(tmp_path / "apel"))
    body = "APEL-summary-job-message: v0.3\nSite: Zürich\n%%\n".encode()
    assert store.accept(body, "/C=CH/CN=a", "6b16/6b16a0").startswith("incoming/")
    assert store.accept(b"x\n", "/C=CH/CN=a", None).startswith("incoming/")
    assert store.refuse(b"MIME-Version: 1.0\n...", None, "e1", "Failed to verify").startswith("reject/")
    incoming = read(tmp_path / "apel" / "incoming", INCOMING_SCHEMA)
    assert sorted(incoming, key=len) == [
        {"body": "x\n", "signer": "/C=CH/CN=a"},
        {"body": body.decode(), "signer": "/C=CH/CN=a", "empaid": "6b16/6b16a0"},
    ]
    assert read(tmp_path / "apel" / "reject", REJECT_SCHEMA) == [
        {"body": "MIME-Version: 1.0\n...", "empaid": "e1", "error": "Failed to verify"}
    ]


def test_a_body_that_is_not_text_goes_to_reject_with_the_reason(tmp_path):
    store = SsmStore(str(tmp_path / "apel"))
    assert store.accept(b"\xff\xfe binary", "/C=CH/CN=a", "e2").startswith("reject/")
    [item] = read(tmp_path / "apel" / "reject", REJECT_SCHEMA)
    assert item["signer"] == "/C=CH/CN=a" and "not UTF-8 text" in item["error"]
    assert read(tmp_path / "apel" / "incoming", INCOMING_SCHEMA) == []


def test_ssm_store_without_verify_is_a_configuration_error(broker, tmp_path):
    config = write_node_config(tmp_path, "n1", broker, receive_extra=f'ssm_store = "{tmp_path / "apel"}"\n')
    with pytest.raises(ConfigError, match="ssm_store needs verify = true"):
        build_shipper(root_of(config), load_shipping(str(config)), "in")
