"""``spoolq udp-proxy``: bridge legacy Enstore UDP tickets to a spool and back."""

from __future__ import annotations

import signal
import sys

import click

from spoolq.cli.group import main
from spoolq.cli.settings import Settings
from spoolq.daemon.stop_signals import STOP_SIGNALS, StopSignals
from spoolq.writers.registry import writer_class


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not port.isdigit() or int(port) > 65535:
        raise click.BadParameter(f"{text!r}: expected HOST:PORT (e.g. 127.0.0.1:7700)")
    return host or "127.0.0.1", int(port)


@main.command("udp-proxy")
@click.option("--listen", default="127.0.0.1:7700", show_default=True, help="UDP address to listen on.")
@click.option("--spool", required=True, help="Spool that receives the tickets (e.g. lmd).")
@click.option("--reply-spool", default=None, help="Spool the replies arrive on [default: <spool>_udp_reply].")
@click.option(
    "--max-size",
    default=None,
    type=click.IntRange(64, 65507),
    help="Largest datagram taken, in bytes [default: the bridge's own, 16384].",
)
@click.pass_obj
def udp_proxy(
    settings: Settings, listen: str, spool: str, reply_spool: str | None, max_size: int | None
) -> None:
    """Turn each UDP ticket into a message in SPOOL; send its reply back to the sender."""
    bridge = writer_class("udp_proxy")  # the Enstore application's writer, by its entry point
    limits = {} if max_size is None else {"max_size": max_size}
    try:
        address = _address(listen)
        root = settings.root(existing=False)
        proxy = bridge(root, spool, reply_spool or f"{spool}_udp_reply", address, **limits)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {listen}: {exc.strerror}") from None
    stops = StopSignals()

    def on_signal(signum, frame):  # only sets flags
        stops.add(signum)
        proxy.stop()

    for signum in STOP_SIGNALS:
        signal.signal(signum, on_signal)
    host, port = proxy.address
    click.echo(
        f"udp-proxy: listening on {host}:{port}, tickets to {proxy.spool}, replies from {proxy.reply_spool}"
    )
    proxy.serve()
    counts = ", ".join(f"{k} {v}" for k, v in sorted(proxy.counts.items())) or "nothing"
    click.echo(f"udp-proxy: stopped ({counts})")
    sys.exit(stops.exit_code())
