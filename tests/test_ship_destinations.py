"""Which destinations a shipper builds from ``to`` addresses, and which ERROR frames name a send."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spoolq.limits import MAX_NODE_NAME as MAX_NODE
from spoolq.routing import RoutingError
from spoolq.shippers.destinations import destination_for
from spoolq.shippers.refusals import MAX_REFUSALS, Refusal, RefusalCount

TEMPLATE = "/queue/spoolq.{node}"


@pytest.mark.parametrize("node", ["node1", "b-1a2b3c4d", "host.example.org", "_x", "N" * MAX_NODE])
def test_a_plain_node_fills_the_template(node):
    assert destination_for(TEMPLATE, node) == f"/queue/spoolq.{node}"


@pytest.mark.parametrize(
    "node",
    ["../../exchange/amq.topic/k", "a/b", "..", "a..b", ".hidden", "-x", "a b", "a\nb", "a:b", "a\\cb", "",
     "N" * (MAX_NODE + 1), "é"],
)  # fmt: skip
def test_a_node_that_is_no_plain_name_is_refused(node):
    with pytest.raises(RoutingError, match="not sent"):
        destination_for(TEMPLATE, node)


def test_no_node_for_a_template_that_needs_one_is_refused():
    with pytest.raises(RoutingError, match="no node"):
        destination_for(TEMPLATE, None)


def test_a_destination_without_node_is_the_operators_own_and_kept():
    assert destination_for("/topic/all", None) == "/topic/all"


@given(st.text(max_size=300))
def test_any_node_gives_a_plain_path_or_a_routing_error(node):
    try:
        destination = destination_for(TEMPLATE, node)
    except RoutingError:
        return
    assert destination.count("/") == 2 and ".." not in destination
    assert destination.isprintable() and " " not in destination


def test_an_error_frame_names_a_send_by_its_receipt_id():
    refusal = Refusal.from_frame({"message": "refused", "receipt-id": "7-2"}, b"")
    assert refusal.names("7-2", "/queue/a")
    assert not refusal.names("7-3", "/queue/a")


@pytest.mark.parametrize(
    ("message", "body", "destination"),
    [
        ("Unknown destination", b"'/bogus/x' is not a valid destination.\n", "/bogus/x"),
        ("Invalid destination", b"'/x/../k' is not a valid queue destination\n", "/queue/x/../k"),
        ("not_found", b"NOT_FOUND - no exchange 'nope' in vhost '/'", "/exchange/nope/k"),
    ],
)
def test_an_error_frame_names_a_send_by_quoting_its_destination(message, body, destination):
    refusal = Refusal.from_frame({"message": message}, body)
    assert refusal.names("1-1", destination)
    assert message in refusal.words and body.decode().strip() in refusal.words


@pytest.mark.parametrize(
    "destination", ["/queue/other", "/exchange/amq.direct/nope-not", "/queue/bogus-x", "/exchange/x/y"]
)
def test_an_error_frame_about_something_else_names_no_send(destination):
    refusal = Refusal.from_frame({"message": "not_found"}, b"NOT_FOUND - no exchange 'nope' in vhost '/'")
    assert not refusal.names("1-1", destination)


def test_an_error_frame_without_words_names_nothing_and_says_so():
    refusal = Refusal.from_frame({}, None)
    assert not refusal.names("1-1", "/queue/a")
    assert refusal.words == "ERROR frame without a message"


def test_refusals_are_counted_per_element_up_to_the_limit_and_forgotten():
    count = RefusalCount()
    assert [count.add("a") for _ in range(MAX_REFUSALS)] == [False] * (MAX_REFUSALS - 1) + [True]
    assert not count.add("b")
    count.forget("a")
    assert not count.add("a")
    assert len(count) == 2
