"""``spoolq demo``: the Enstore small-files aggregation scenario, end to end."""

from __future__ import annotations

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
def demo(directory: str, files: int, workers: int, durable: bool) -> None:
    """Write small files, aggregate and archive them, purge, stage back, verify every byte.

    Everything lives under the demo directory; a previous demo tree there is
    wiped, anything else is refused.
    """
    from spoolq.enstore.demo.scenario import run_demo

    progress = ProgressLines(click.get_text_stream("stdout"))
    try:
        report = run_demo(directory, files=files, workers=workers, say=progress.say, durable=durable)
    finally:
        progress.close()
    _print_table(report)
    for problem in (report.lost + report.corrupted)[:10]:
        click.echo(f"problem: {problem}", err=True)
    sys.exit(exit_codes.OK if report.ok else exit_codes.FAILURE)


def _print_table(report) -> None:
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
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        click.echo(f"{name:<{width}}  {value}")
