"""The WAN link of the tests and benchmarks: bytes intact and in order, late by the delay, cut, silent."""

from __future__ import annotations

import socket
import socketserver
import threading
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spoolq.testbed.delay_proxy import DelayProxy
from spoolq.testbed.proxy_process import ProxyProcess


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        try:
            while data := self.request.recv(65536):
                self.request.sendall(data)
        except OSError:  # a reset from a cut link
            pass


@pytest.fixture(scope="module")
def echo_port():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="echo-server")
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join(10)


@pytest.fixture(scope="module")
def fast_link(echo_port):
    with DelayProxy(echo_port, 0.002) as proxy:
        yield proxy


def receive_exactly(sock: socket.socket, size: int) -> bytes:
    sock.settimeout(20)
    parts, got = [], 0
    while got < size:
        data = sock.recv(size - got)
        if not data:
            break
        parts.append(data)
        got += len(data)
    return b"".join(parts)


def nothing_arrives(sock: socket.socket, seconds: float) -> bool:
    sock.settimeout(seconds)
    try:
        return sock.recv(1) == b""  # b"": closed, which a silent link must not do either
    except TimeoutError:
        return True
    finally:
        sock.settimeout(20)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(chunks=st.lists(st.binary(min_size=1, max_size=70_000), min_size=1, max_size=12))
def test_every_byte_comes_back_in_order_whatever_the_chunking(fast_link, chunks):
    sent = b"".join(chunks)
    with socket.create_connection(("127.0.0.1", fast_link.port), timeout=20) as sock:
        for chunk in chunks:
            sock.sendall(chunk)
        assert receive_exactly(sock, len(sent)) == sent


def test_a_round_trip_is_late_by_both_delays(echo_port):
    with DelayProxy(echo_port, 0.05) as proxy, socket.create_connection(("127.0.0.1", proxy.port)) as sock:
        start = time.monotonic()
        sock.sendall(b"ping")
        assert receive_exactly(sock, 4) == b"ping"
        assert time.monotonic() - start >= 0.1


def test_chunks_in_a_row_are_each_late_by_the_delay_not_by_the_sum(echo_port):
    """Forty chunks, each held 0.1 s each way: one after the other they would take 8 s."""
    with DelayProxy(echo_port, 0.1) as proxy, socket.create_connection(("127.0.0.1", proxy.port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        start = time.monotonic()
        for n in range(40):
            sock.sendall(bytes([n]) * 100)
            time.sleep(0.002)
        assert receive_exactly(sock, 4000) == b"".join(bytes([n]) * 100 for n in range(40))
        assert time.monotonic() - start < 4.0


@pytest.mark.parametrize("kind", [DelayProxy, ProxyProcess])
def test_a_cut_link_resets_its_connections_and_refuses_new_ones_until_restored(echo_port, kind):
    with kind(echo_port, 0.001) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=20) as sock:
            sock.sendall(b"before")
            assert receive_exactly(sock, 6) == b"before"
            proxy.cut()
            with pytest.raises(ConnectionResetError):
                sock.sendall(b"after")
                sock.recv(10)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", proxy.port), timeout=20)
        proxy.restore()
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=20) as sock:
            sock.sendall(b"again")
            assert receive_exactly(sock, 5) == b"again"


@pytest.mark.parametrize("kind", [DelayProxy, ProxyProcess])
def test_a_silent_link_holds_what_is_sent_and_delivers_it_when_it_speaks_again(echo_port, kind):
    with (
        kind(echo_port, 0.001) as proxy,
        socket.create_connection(("127.0.0.1", proxy.port), timeout=20) as sock,
    ):
        sock.sendall(b"first")
        assert receive_exactly(sock, 5) == b"first"
        proxy.silence()
        sock.sendall(b"held-1")
        sock.sendall(b"held-2")
        assert nothing_arrives(sock, 0.5)
        proxy.unsilence()
        assert receive_exactly(sock, 12) == b"held-1held-2"


def test_a_new_connection_over_a_silent_link_is_accepted_but_hears_nothing(echo_port):
    with DelayProxy(echo_port, 0.001) as proxy:
        proxy.silence()
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=20) as sock:
            sock.sendall(b"hello")
            assert nothing_arrives(sock, 0.5)
            proxy.unsilence()
            assert receive_exactly(sock, 5) == b"hello"


def test_a_close_behind_held_bytes_comes_after_them(echo_port):
    """A peer that closed while the link was silent: its last bytes arrive, then its close."""
    received = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with DelayProxy(listener.getsockname()[1], 0.001) as proxy:
            client = socket.create_connection(("127.0.0.1", proxy.port), timeout=20)
            server, _ = listener.accept()
            proxy.silence()
            client.sendall(b"last words")
            client.close()
            server.settimeout(0.5)
            with pytest.raises(TimeoutError):
                server.recv(100)
            server.settimeout(20)
            proxy.unsilence()
            while data := server.recv(100):
                received.append(data)
            server.close()
    assert b"".join(received) == b"last words"
