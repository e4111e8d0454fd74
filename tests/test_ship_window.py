"""``window = "auto"``: a shipper sizes its window from the link, within a memory bound."""

from __future__ import annotations

import threading

import pytest

from spoolq.errors import ConfigError
from spoolq.message import Message
from spoolq.shippers.config import load_shipping
from spoolq.shippers.send_window import (
    AUTO_MAX,
    AUTO_MAX_BYTES,
    AUTO_START,
    AutoWindow,
    FixedWindow,
    send_window,
)
from spoolq.testbed.delay_proxy import DelayProxy
from spoolq.testbed.shipping import root_of, running, unique, write_node_config
from tests.waiting import wait_until


def one_round(window: AutoWindow, delay: float, *, full: bool = True, size: int = 1024) -> None:
    """A window's worth of sends, all answered ``delay`` seconds later."""
    count = window.size
    window.sent(count, count * size, full=full)
    for _ in range(count):
        window.receipted(delay)


def test_a_number_is_a_fixed_window_and_auto_starts_at_the_default():
    assert isinstance(send_window(250), FixedWindow) and send_window(250).size == 250
    assert isinstance(send_window("auto"), AutoWindow) and send_window("auto").size == AUTO_START == 100


def test_auto_grows_while_full_and_the_receipts_come_back_in_one_round_trip():
    window = AutoWindow()
    sizes = []
    for _ in range(6):
        one_round(window, 0.050)
        sizes.append(window.size)
    assert sizes == sorted(sizes) and sizes[-1] > 5 * AUTO_START


def test_auto_does_not_grow_when_the_spool_never_fills_the_window():
    window = AutoWindow()
    for _ in range(5):
        one_round(window, 0.050, full=False)
    assert window.size == AUTO_START


def test_auto_shrinks_when_receipts_queue_up_but_never_below_the_default():
    window = AutoWindow()
    for _ in range(4):
        one_round(window, 0.050)
    grown = window.size
    one_round(window, 0.200)  # four times the round trip: a queue at the broker
    assert window.size < grown
    for _ in range(20):
        one_round(window, 0.200)
    assert window.size == AUTO_START


def test_auto_starts_over_after_trouble():
    window = AutoWindow()
    for _ in range(4):
        one_round(window, 0.050)
    window.trouble()
    assert window.size == AUTO_START


@pytest.mark.parametrize(
    "size, cap", [(1024, AUTO_MAX), (1 << 20, AUTO_START), (64 << 10, AUTO_MAX_BYTES // (64 << 10))]
)
def test_auto_keeps_to_its_bounds_in_sends_and_in_bytes(size, cap):
    window = AutoWindow()
    for _ in range(40):
        one_round(window, 0.050, size=size)
    assert window.size == cap


def shipping_with_window(tmp_path, broker, value: str):
    config = write_node_config(tmp_path, unique("a"), broker)
    config.write_text(config.read_text().replace("window = 200", f"window = {value}"))
    return config


def test_a_shipper_without_a_window_sizes_it_from_the_link(tmp_path, broker):
    config = write_node_config(tmp_path, unique("a"), broker)
    config.write_text(config.read_text().replace("window = 200\n", ""))
    assert load_shipping(str(config)).shippers["out"].window == "auto"


def test_the_window_setting_is_a_number_or_auto(tmp_path, broker):
    config = shipping_with_window(tmp_path / "auto", broker, '"auto"')
    assert load_shipping(str(config)).shippers["out"].window == "auto"
    for bad in ('"big"', "0", "true"):
        config = shipping_with_window(tmp_path / f"bad{bad.strip(chr(34))}", broker, bad)
        with pytest.raises(ConfigError, match=r"shippers\.out\.window"):
            load_shipping(str(config))


@pytest.mark.timeout(180)
def test_an_auto_window_grows_over_a_long_link_and_everything_arrives_once(broker, tmp_path):
    """50 ms round trip: 100 in flight would cap the shipper at 2000 a second."""
    node_b = unique("b")
    receiver = write_node_config(tmp_path / "b", node_b, broker)
    with DelayProxy(broker.stomp_port, 0.025) as link:
        sender = write_node_config(tmp_path / "a", unique("a"), broker, hosts=[f"127.0.0.1:{link.port}"])
        sender.write_text(sender.read_text().replace("window = 200", 'window = "auto"'))
        sent = [Message.new("wan", str(n), to=f"md@{node_b}") for n in range(5000)]
        outgoing, md = root_of(sender).spool("outgoing"), root_of(receiver).spool("md")
        outgoing.put_many(sent)
        largest = [0]
        done = threading.Event()
        with running(sender, "out") as (shipper,), running(receiver, "in"):

            def widest() -> None:
                while not done.wait(0.01):
                    largest[0] = max(largest[0], shipper.window.size)

            watcher = threading.Thread(target=widest, name="window-watcher")
            watcher.start()
            try:
                wait_until(lambda: md.count() == len(sent) and outgoing.count() == 0, 150, "all delivered")
            finally:
                done.set()
                watcher.join(10)
    assert largest[0] > AUTO_START
    assert sorted(md.get(name).message_id for name in md.names()) == sorted(m.message_id for m in sent)
