"""COMPONENT@NODE: both parts are checked where an address is read."""

from __future__ import annotations

import pytest

from spoolq.config.toml_file import load_toml_config
from spoolq.errors import ConfigError
from spoolq.limits import MAX_NODE_NAME
from spoolq.routing import Address, RoutingError

VALID = ["md@node2", "md@node-2.example.org", "a_b@n_1", "md", f"md@{'n' * MAX_NODE_NAME}"]


@pytest.mark.parametrize("text", VALID)
def test_valid_addresses_are_read(text):
    address = Address.parse(text)
    assert str(address) == text


@pytest.mark.parametrize(
    "text",
    [
        "x@a/b",
        "x@../../exchange/amq.topic/k",
        "x@a..b",
        "x@.hidden",
        "x@-dash",
        "x@y@z",
        "x@a b",
        "x@a\x00",
        f"x@{'n' * (MAX_NODE_NAME + 1)}",
        "../x@node",
        "x@",
    ],
)
def test_an_address_whose_node_or_component_is_not_a_name_is_a_routing_error(text):
    with pytest.raises(RoutingError, match="address"):
        Address.parse(text)


def test_the_node_key_of_the_configuration_is_checked_as_address_nodes_are():
    with pytest.raises(ConfigError, match="node.*not a valid node name"):
        load_toml_config("spoolq.toml", b'node = "a/b"\n')
    assert load_toml_config("spoolq.toml", b'node = "node1"\n').node == "node1"


def test_a_nul_character_in_a_configuration_string_is_a_config_error():
    with pytest.raises(ConfigError, match="root.*NUL"):
        load_toml_config("spoolq.toml", b'root = "~\\u0000"\n')
