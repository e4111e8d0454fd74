"""Every parser of outside bytes, each with the one error type it documents.

Shared by the property-based tests (``test_fuzz_*.py``) and the corpus
replay (``test_corpus.py``): each entry takes bytes, parses them as its
caller would, and may raise only its documented error.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from spoolq import envelope
from spoolq.config.panda import load_panda_config
from spoolq.config.toml_file import load_toml_config
from spoolq.enstore.udp.tickets import TicketError, parse_ticket
from spoolq.errors import ConfigError, MalformedMessage, SpoolError, SpoolqError
from spoolq.routing import Address, Router, RoutingError
from spoolq.shippers.broker_config import BrokerConfig
from spoolq.shippers.config import DestinationConfig, ShipperConfig
from spoolq.shippers.receiver import StompReceiver
from spoolq.spool import SpoolRoot, layout
from spoolq.spool.root import check_spool_name


def as_text(data: bytes) -> str:
    """Bytes as the text a caller would hand a text parser (invalid UTF-8 kept as surrogates)."""
    return data.decode("utf-8", "surrogateescape")


def decode(data: bytes) -> object:
    return envelope.decode(data, where="fuzz")


def decode_and_write_back(data: bytes) -> object:
    """What decodes must encode again: a reply or a parked record is written from it."""
    return envelope.encode(envelope.decode(data))


def header_of(data: bytes) -> object:
    return envelope.header_of(data)  # documented: never raises, None for what it cannot read


def address(data: bytes) -> object:
    return Address.parse(as_text(data))


def route_here(data: bytes) -> object:
    return Router("node1").deliver_here(envelope.decode(data), "pe")


def spool_name(data: bytes) -> object:
    return check_spool_name(as_text(data))


def element_name(data: bytes) -> object:
    text = as_text(data)
    return layout.is_element_name(text), layout.is_element_path(text), layout.element_names([text])


def ticket(data: bytes) -> object:
    return parse_ticket(data)


def toml_config(data: bytes) -> object:
    return load_toml_config("fuzz.toml", data)


def panda_config(data: bytes) -> object:
    return load_panda_config("fuzz.json", data)


def receiver(root: Path) -> StompReceiver:
    """A receiver that is never connected: only its frame admission is used."""
    spool_root = SpoolRoot(root)
    config = ShipperConfig(name="in", kind="receive", destination="nodes", spool="pe")
    destination = DestinationConfig(name="nodes", broker="local", address="/queue/spoolq.{node}")
    broker = BrokerConfig(name="local", hosts=(("127.0.0.1", 1),))
    return StompReceiver(spool_root, config, destination, broker, router=Router("node1"))


#: name -> (parse function, the errors it may raise); ``()``: it may raise nothing.
PARSERS: dict[str, tuple[Callable[[bytes], object], tuple[type[BaseException], ...]]] = {
    "envelope.decode": (decode, (MalformedMessage,)),
    "envelope decoded and written back": (decode_and_write_back, (MalformedMessage,)),
    "envelope.header_of": (header_of, ()),
    "Address.parse": (address, (RoutingError,)),
    "Router.deliver_here": (route_here, (MalformedMessage, RoutingError)),
    "check_spool_name": (spool_name, (SpoolError,)),
    "layout element names": (element_name, ()),
    "parse_ticket": (ticket, (TicketError,)),
    "TOML configuration": (toml_config, (ConfigError,)),
    "PanDA configuration": (panda_config, (ConfigError,)),
}

#: The receiver's frame admission may raise any SpoolqError: the receiver parks the frame with it.
ADMISSION_ERRORS = (SpoolqError,)

#: A frame's body is read as its headers say: from a spoolq of an earlier release (whole), from
#: spoolq as text, or from another sender.  Each is tried on every input.
FRAME_HEADERS = ({"spoolq-id": "older"}, {"spoolq-envelope": "text"}, {"destination": "/queue/foreign"})


def parse_only_with(parse: Callable[[bytes], object], allowed: tuple[type[BaseException], ...], data: bytes):
    """Parse ``data``; an error of another type than ``allowed`` fails the test, naming the input."""
    try:
        return parse(data)
    except allowed:
        return None
    except Exception as exc:  # the failure a test reports: anything undocumented
        raise AssertionError(f"{type(exc).__name__} on {data[:200]!r}: {exc}"[:2000]) from exc
