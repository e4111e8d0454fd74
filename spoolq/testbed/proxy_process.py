"""A :class:`~spoolq.testbed.delay_proxy.DelayProxy` in a process of its own, with the same controls.

For benchmarks: the link's work then competes with the measured threads for the
machine's cores only, not for the calling process's interpreter lock.  The
child is started with ``spawn`` (no copy of the caller's threads) and obeys one
command at a time through a pipe.
"""

from __future__ import annotations

import multiprocessing

from spoolq.testbed.broker import free_port
from spoolq.testbed.delay_proxy import DelayProxy


class ProxyProcess:
    """A :class:`DelayProxy` in a process of its own, driven through a pipe; the same controls."""

    def __init__(
        self, target_port: int, delay: float = 0.0, *, port: int | None = None, busy_wait: float = 0.0
    ):
        self.port = port or free_port()
        self.delay = delay
        context = multiprocessing.get_context("spawn")  # no copy of the caller's threads
        self._pipe, child = context.Pipe()
        self._process = context.Process(
            target=_serve,
            args=(child, target_port, delay, self.port, busy_wait),
            name=f"delay-proxy-{self.port}",
            daemon=True,
        )

    def start(self) -> ProxyProcess:
        self._process.start()
        self._ask("ready")
        return self

    def _ask(self, command: str):
        self._pipe.send(command)
        if not self._pipe.poll(30):
            raise RuntimeError(f"delay proxy process on port {self.port} did not answer {command!r}")
        return self._pipe.recv()

    def cut(self) -> None:
        self._ask("cut")

    def restore(self) -> None:
        self._ask("restore")

    def silence(self) -> None:
        self._ask("silence")

    def unsilence(self) -> None:
        self._ask("unsilence")

    @property
    def accepted(self) -> int:
        return self._ask("accepted")

    def close(self) -> None:
        if self._process.is_alive():
            try:
                self._ask("close")
            except (OSError, EOFError, RuntimeError):
                pass
            self._process.join(10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    def __enter__(self) -> ProxyProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


def _serve(pipe, target_port: int, delay: float, port: int, busy_wait: float) -> None:
    """The child of :class:`ProxyProcess`: one proxy, one command at a time, until ``close``."""
    proxy = DelayProxy(target_port, delay, port=port, busy_wait=busy_wait).start()
    try:
        while True:
            command = pipe.recv()
            if command == "ready":
                pipe.send(True)
            elif command == "accepted":
                pipe.send(proxy.accepted)
            elif command == "close":
                proxy.close()
                pipe.send(True)
                return
            else:
                getattr(proxy, command)()
                pipe.send(True)
    except EOFError:  # the parent is gone
        pass
    finally:
        proxy.close()
