"""``spoolq demo``: the Enstore small-files aggregation scenario, end to end."""

from __future__ import annotations

import signal
import sys

import click

from spoolq.cli import exit_codes
from spoolq.cli.group import main
from spoolq.cli.progress import ProgressLines


@main.command("demo")
@click.option("--root", "directory", default="spool", show_default=True, help="Demo directory.")
@click.option("--files", default=2000, show_default=True, type=click.IntRange(1), help="Files to write.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 16), help="Workers.")
@click.option("--durable/--no-durable", default=False, show_default=True, help="fsync every message.")
@click.option(
    "--nodes",
    type=click.Choice(["1", "3"]),
    default="1",
    show_default=True,
    help="1: every component on this machine; 3: three nodes through a private 3-node RabbitMQ cluster.",
)
@click.option(
    "--hosts",
    "hosts_kind",
    type=click.Choice(["auto", "namespaces", "loopback"]),
    default="auto",
    show_default=True,
    help="With --nodes 3: hosts as network namespaces (root) or loopback ports; auto: namespaces if it can.",
)
def demo(directory: str, files: int, workers: int, durable: bool, nodes: str, hosts_kind: str) -> None:
    """Write small files, aggregate and archive them, purge, stage back, verify every byte.

    Everything lives under the demo directory; a previous demo tree there is
    wiped, anything else is refused.  With --nodes 3 the Policy Engine,
    the Migration Dispatcher and the workers run on three nodes of their own,
    each its own spoolq run, shipping through a 3-node RabbitMQ cluster
    that the demo starts and stops (Debian's rabbitmq-server must be installed).
    """
    if nodes == "1" and hosts_kind != "auto":
        raise click.UsageError("--hosts chooses the hosts of --nodes 3; one node runs on this machine")
    progress = ProgressLines(click.get_text_stream("stdout"))
    try:
        if nodes == "1":
            from spoolq.enstore.demo.scenario import run_demo

            report = run_demo(directory, files=files, workers=workers, say=progress.say, durable=durable)
        else:
            report = _run_across_nodes(directory, files, workers, progress.say, durable, hosts_kind)
    except KeyboardInterrupt:
        progress.close()
        click.echo("spoolq: demo interrupted; everything it started is stopped", err=True)
        sys.exit(exit_codes.INTERRUPTED)
    finally:
        progress.close()
    _print_table(report, _node_rows(report) if nodes != "1" else [])
    for problem in (report.lost + report.corrupted)[:10]:
        click.echo(f"problem: {problem}", err=True)
    sys.exit(exit_codes.OK if report.ok else exit_codes.FAILURE)


def _run_across_nodes(directory: str, files: int, workers: int, say, durable: bool, hosts_kind: str):
    """The demo across nodes; SIGTERM stops it as Ctrl-C does, so that its hosts and brokers are removed."""
    from spoolq.enstore.demo.across_nodes import run_demo_across_nodes

    loopback = {"auto": None, "namespaces": False, "loopback": True}[hosts_kind]
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return run_demo_across_nodes(
            directory, files=files, workers=workers, say=say, durable=durable, loopback=loopback
        )
    finally:
        signal.signal(signal.SIGTERM, previous)


def _node_rows(report) -> list[tuple[str, object]]:
    """What each node shipped, and the broker nodes it used."""
    rows: list[tuple[str, object]] = [("hosts", report.hosts)]
    rows.append(("broker nodes", ", ".join(report.broker_nodes)))
    for node, figures in report.traffic.items():
        rows.append((f"{node} shipped / received", f"{figures.sent} / {figures.received}"))
        rows.append((f"{node} broker nodes used", ", ".join(sorted(figures.brokers)) or "-"))
    return rows


def _print_table(report, more: list[tuple[str, object]]) -> None:
    total = report.seconds.get("total", 0.0)
    rows = [
        ("files", report.files),
        ("bytes", report.bytes),
        ("containers", report.containers),
        ("purged from cache", report.purged),
        ("staged back", report.staged),
        ("lost", len(report.lost)),
        ("corrupted", len(report.corrupted)),
        *((f"time {k} (s)", f"{v:.2f}") for k, v in report.seconds.items()),
        ("time packing (s)", f"{report.packing_seconds:.2f}"),
        ("files archived per second", f"{report.files / report.seconds['archive']:.0f}" if total else "-"),
        *((f"messages {k}", v) for k, v in sorted(report.messages.items())),
        *more,
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        click.echo(f"{name:<{width}}  {value}")
