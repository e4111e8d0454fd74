"""The message catalogue: builders, required fields, the worker naming aliases."""

from __future__ import annotations

import copy

import pytest

from spoolq.enstore.catalogue import dispatcher, events, worker
from spoolq.enstore.catalogue.fields import OK
from spoolq.errors import Reject
from spoolq.message import Message
from tests.enstore.tickets import missed_ticket, written_ticket


def test_cache_written_is_json_with_type_and_version():
    message = events.cache_written(written_ticket())
    assert message.type == "CACHE_WRITTEN"
    assert message.header["version"] == "1.0"
    assert message.content_type == "application/json"
    assert events.read_event(message)["file"]["id"] == "000E00000000000000095D5220"


@pytest.mark.parametrize(
    "path",
    ["cache.arch.id", "cache.en.path", "file.size", "enstore.vc.library", "enstore.vc.file_family"],
)
def test_a_missing_required_field_is_named(path):
    ticket = written_ticket()
    *parents, leaf = path.split(".")
    node = ticket
    for part in parents:
        node = node[part]
    del node[leaf]
    with pytest.raises(Reject, match=repr(path)):
        events.cache_written(ticket)


def test_a_field_of_the_wrong_type_is_named():
    ticket = written_ticket()
    ticket["file"]["size"] = "big"
    with pytest.raises(Reject, match="'file.size' must be int"):
        events.cache_written(ticket)


def test_read_only_fields_are_optional_on_write_but_required_on_a_miss():
    events.cache_written(written_ticket())  # no bfid, no location_cookie, no crc
    ticket = written_ticket()
    with pytest.raises(Reject, match="enstore.bfid"):
        events.cache_missed(ticket)
    events.cache_missed(missed_ticket("F1", "c.tar", 7))  # and no cache.en, as in the design


def test_a_received_message_with_a_bad_body_is_rejected_naming_the_problem():
    bad = Message.new("CACHE_WRITTEN", "not json", content_type="application/json")
    with pytest.raises(Reject, match="not valid JSON"):
        events.read_event(bad)
    incomplete = Message.new("CACHE_STAGED", {"file": {"id": "x"}})
    with pytest.raises(Reject, match="cache.arch.id"):
        events.read_event(incomplete)


def test_dispatcher_command_and_reply_carry_the_correlation_id():
    command = dispatcher.archive([written_ticket()], reply_to="pe_reply")
    assert dispatcher.read_command(command)[0]["file"]["size"] == 10
    answer = dispatcher.reply(command, OK, [{"id": "x"}])
    assert answer.type == "MDR_ARCHIVED"
    assert answer.correlation_id == command.message_id
    assert dispatcher.read_reply(answer)["status"] == ["ok", ""]


def test_dispatcher_reply_without_status_or_correlation_is_rejected():
    command = dispatcher.archive([written_ticket()])
    with pytest.raises(Reject, match="status"):
        dispatcher.read_reply(command.reply("MDR_ARCHIVED", {"files": []}))
    with pytest.raises(Reject, match="correlation-id"):
        dispatcher.read_reply(Message.new("MDR_ARCHIVED", {"status": OK, "files": []}))


def test_a_command_file_list_names_the_wrong_item():
    tickets = [written_ticket("A"), written_ticket("B")]
    del tickets[1]["file"]["id"]
    message = Message.new("MDC_ARCHIVE", {"files": tickets})
    with pytest.raises(Reject, match=r"files\[1\]: required field 'file.id'"):
        dispatcher.read_command(message)


def test_worker_names_from_section_5_3_are_accepted_as_aliases():
    command = worker.command(worker.MWC_ARCHIVE, "p1", [written_ticket()], reply_to="md_reply")
    legacy = Message(command.body, {**command.header, "type": "MDW_ARCHIVE"})
    assert worker.read_command(legacy)[0] == "MWC_ARCHIVE"
    answer = worker.reply(legacy, OK, {"part": "p1", "worker": "w1", "files": []})
    assert answer.type == "MWR_ARCHIVED"
    legacy_answer = Message(answer.body, {**answer.header, "type": "MDR_ARCHIVED"})
    assert worker.read_reply(legacy_answer)[0] == "MWR_ARCHIVED"
    status = Message.new("MDR_STATUS", {"status": OK, "worker": "w1"}, correlation_id="c")
    assert worker.read_reply(status)[0] == "MWR_STATUS"


def test_worker_stage_needs_a_container():
    message = Message.new("MWC_STAGE", {"part": "p", "files": [missed_ticket("F", "c.tar", 1)]})
    with pytest.raises(Reject, match="container"):
        worker.read_command(message)


def test_builders_do_not_keep_a_reference_to_the_ticket():
    ticket = written_ticket()
    message = events.cache_written(copy.deepcopy(ticket))
    ticket["file"]["size"] = 99
    assert events.read_event(message)["file"]["size"] == 10
