"""A TCP proxy on 127.0.0.1 that behaves like a WAN link: delayed, cuttable, or silent.

This kernel has no ``netem``, so the latency of a link between sites is made
here, in user space.  Every chunk read from one side is stamped with the time it
arrived and written to the other side ``delay`` seconds later; chunks are never
slept on one after the other, so a stream of them keeps flowing, each late by
the delay and no more (a window of sends costs one round trip, as on a WAN).
The byte stream stays intact and in order: one FIFO per direction.

The link can fail in the two ways a WAN link does:

* :meth:`DelayProxy.cut`: every connection is reset (RST on both sides) and new
  ones are refused, until :meth:`DelayProxy.restore`: a router that went down;
* :meth:`DelayProxy.silence`: connections stay open but nothing passes, in
  either direction, and new connections are accepted but hear nothing, until
  :meth:`DelayProxy.unsilence`: a black hole, the failure only heartbeats find.
  Nothing is dropped: what was sent meanwhile is held and delivered when the
  link comes back, as TCP retransmits it (a peer that closed its socket
  meanwhile has its last bytes delivered, then the close).

A chunk leaves when due, give or take the wake-up of the proxy's thread:
after milliseconds of an idle link, the CPU it sleeps on has halted, and that
wake-up (with the loop's millisecond timer) made each crossing 0.2-0.4 ms
later than its delay here, past what a kernel delay line would add.  For
latency measurements, the proxy sleeps to ``busy_wait`` seconds before each
due time with a timer precise to the microsecond (holding its loop for at
most a millisecond), then watches the clock: a chunk leaves within
microseconds of its time, at the cost of a CPU for ``busy_wait`` (so not for
throughput runs, where chunks are due all the time).

The proxy runs an asyncio loop in a thread of its own (:class:`DelayProxy`),
or in a process of its own (:class:`spoolq.testbed.proxy_process.ProxyProcess`),
so that a benchmark measuring threads of the calling process does not share its
interpreter lock with the link.
"""

from __future__ import annotations

import asyncio
import collections
import socket
import struct
import threading
import time

from spoolq.testbed.broker import free_port

HOLD_LIMIT = 4 << 20  # bytes held per direction before the proxy stops reading (TCP's back-pressure)
CHUNK = 256 << 10  # bytes read at once
LOOP_TIMER = 0.001  # the grain of the loop's timer (epoll's millisecond), with busy_wait


class _Pipe:
    """One direction of one connection: a FIFO of (due time, bytes), written when due."""

    def __init__(self, link: DelayProxy, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.link = link
        self.busy_wait = link.busy_wait
        self.reader, self.writer = reader, writer
        self.chunks: collections.deque[tuple[float, bytes | None]] = collections.deque()  # None: the close
        self.held = 0
        self.arrived = asyncio.Event()
        self.room = asyncio.Event()
        self.room.set()

    async def read(self, delay: float) -> None:
        """Stamp each chunk read with its due time; at the end, a close marker, due as well."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                await self.room.wait()
                data = await self.reader.read(CHUNK)
                self.chunks.append((loop.time() + delay, data or None))
                self.arrived.set()
                if not data:
                    return
                self.held += len(data)
                if self.held >= HOLD_LIMIT:
                    self.room.clear()
        except (ConnectionError, OSError):
            self.chunks.append((loop.time() + delay, None))
            self.arrived.set()

    async def write(self, target: asyncio.StreamWriter) -> None:
        """Write every chunk that is due in one go; sleep only until the oldest one is."""
        loop = asyncio.get_running_loop()
        chunks = self.chunks
        try:
            while True:
                while not chunks:
                    self.arrived.clear()
                    await self.arrived.wait()
                await self.link._open.wait()  # silent: held, not lost
                due = chunks[0][0]
                wait = due - loop.time()
                if not self.busy_wait:
                    if wait > 0:
                        await asyncio.sleep(wait)
                        continue  # silenced (or cut) while asleep: look again
                elif wait > self.busy_wait + LOOP_TIMER:
                    # The loop's timer has a millisecond's grain: sleep to within one of the end.
                    await asyncio.sleep(wait - self.busy_wait - LOOP_TIMER)
                    continue
                else:
                    if wait > self.busy_wait:
                        time.sleep(wait - self.busy_wait)  # to the microsecond; the loop waits with it
                    while loop.time() < due:  # the last stretch, awake: on time
                        pass
                now, out, closing = loop.time(), [], False
                while chunks and chunks[0][0] <= now:
                    data = chunks.popleft()[1]
                    if data is None:
                        closing = True
                        break
                    out.append(data)
                if out:
                    data = b"".join(out)
                    self.held -= len(data)
                    target.write(data)
                    if self.held < HOLD_LIMIT:
                        self.room.set()
                    await target.drain()
                if closing:
                    if target.can_write_eof():
                        target.write_eof()  # half-close: the other direction may still carry bytes
                    return
        except (ConnectionError, OSError):
            return


class DelayProxy:
    """Listen on ``127.0.0.1:port`` and relay each connection to ``target_port``, ``delay`` s late each way.

    ``delay`` is one way: a round trip through the proxy is ``2 * delay`` longer
    than without it.  ``busy_wait``: seconds before each chunk's due time spent
    awake (see the module's text; 0.0003 keeps the delay to microseconds here).
    Start with :meth:`start` (or ``with``); stop with :meth:`close`.
    """

    def __init__(
        self,
        target_port: int,
        delay: float = 0.0,
        *,
        port: int | None = None,
        target_host="127.0.0.1",
        busy_wait: float = 0.0,
    ):
        self.target = (target_host, target_port)
        self.delay = delay
        self.busy_wait = busy_wait
        self.port = port or free_port()
        self.accepted = 0  # connections accepted, since the start
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._open: asyncio.Event | None = None  # cleared while silent
        # each connection's two writers (client side, broker side) -> its four relaying tasks
        self._connections: dict[tuple[asyncio.StreamWriter, asyncio.StreamWriter], asyncio.Future] = {}

    # -- control, from any thread -----------------------------------------------------

    def start(self) -> DelayProxy:
        started = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(started,), name=f"delay-proxy-{self.port}", daemon=True
        )
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError(f"delay proxy on port {self.port} did not start")
        self._call(self._listen)
        return self

    def close(self) -> None:
        """Reset every connection, stop listening and end the loop's thread."""
        if self._loop is None:
            return
        self._call(self._cut)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._loop = None

    def __enter__(self) -> DelayProxy:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def cut(self) -> None:
        """The link goes down: every connection reset, new ones refused (nothing listens)."""
        self._call(self._cut)

    def restore(self) -> None:
        """The link is back after :meth:`cut`: new connections are accepted again."""
        self._call(self._listen)

    def silence(self) -> None:
        """Nothing passes any more, either way, but no connection is closed; what is sent is held."""
        self._call(self._silence)

    def unsilence(self) -> None:
        """What was held is delivered, in order, and the link carries bytes again."""
        self._call(self._unsilence)

    @property
    def connections(self) -> int:
        """Connections open through the proxy right now."""
        return len(self._connections)

    # -- the loop's side --------------------------------------------------------------

    def _run(self, started: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._open = asyncio.Event()
        self._open.set()
        started.set()
        self._loop.run_forever()
        tasks = asyncio.all_tasks(self._loop)
        for task in tasks:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))

    def _call(self, coroutine_function) -> None:
        asyncio.run_coroutine_threadsafe(coroutine_function(), self._loop).result(10)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port, reuse_address=True)

    async def _silence(self) -> None:
        self._open.clear()

    async def _unsilence(self) -> None:
        self._open.set()

    async def _cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()
        for pair, relay in list(self._connections.items()):
            for writer in pair:
                _reset(writer)
            relay.cancel()
        self._connections.clear()

    async def _relay(self, client_reader, client_writer) -> None:
        self.accepted += 1
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(client_writer)
            return
        for writer in (client_writer, server_writer):
            writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        pair = (client_writer, server_writer)
        up = _Pipe(self, client_reader, client_writer)
        down = _Pipe(self, server_reader, server_writer)
        relay = asyncio.gather(
            up.read(self.delay), up.write(server_writer), down.read(self.delay), down.write(client_writer)
        )
        self._connections[pair] = relay
        try:
            await relay
        except asyncio.CancelledError:  # cut: what it held is lost with the connection
            pass
        finally:
            if self._connections.pop(pair, None) is not None:
                for writer in pair:
                    writer.close()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with SO_LINGER 0: the peer gets a RST, as from a link that failed, not a polite FIN."""
    sock = writer.get_extra_info("socket")
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    writer.transport.abort()
