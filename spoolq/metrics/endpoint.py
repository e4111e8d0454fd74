"""An HTTP ``/metrics`` endpoint, prometheus_client's own server, for ``spoolq run``.

Off unless the configuration sets ``metrics_listen``; bound to 127.0.0.1
unless it names another address.  Each scrape collects afresh (the spools as
they are, each component's and shipper's textfile as last written:
:class:`spoolq.metrics.export.RootCollector`), so the endpoint shows what
``spoolq stats --prom`` prints.  The server runs in a daemon thread of its
own; the supervisor's loop never waits for it.
"""

from __future__ import annotations

import logging
import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server
from prometheus_client.registry import Collector

from spoolq.errors import ConfigError

log = logging.getLogger("spoolq.metrics")


class MetricsEndpoint:
    """Serves ``registry`` on ``http://HOST:PORT/metrics`` from :meth:`start` until :meth:`close`."""

    def __init__(self, registry: Collector, host: str, port: int):
        self.registry = registry
        self.host = host
        self.port = port
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Listen, or :class:`ConfigError` naming the address when it cannot (in use, not this host's)."""
        try:
            self._server, self._thread = start_http_server(self.port, self.host, self.registry)
        except OSError as exc:
            raise ConfigError(
                f"metrics_listen: cannot serve /metrics on {self.url}: {exc.strerror or exc}"
            ) from None
        self.port = self._server.server_port  # the one chosen, when 0 asked for any
        log.info("serving metrics on %s", self.url)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = self._thread = None

    def __enter__(self) -> MetricsEndpoint:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
