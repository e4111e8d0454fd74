"""``spoolq demo``: the Enstore small-files aggregation scenario, end to end."""

from __future__ import annotations

import sys

import click

from spoolq.cli import exit_codes, main


@main.command("demo")
@click.option(
    "--root", "directory", default="spool", show_default=True, help="Demo directory (wiped if it is one)."
)
@click.option(
    "--files", default=2000, show_default=True, type=click.IntRange(1), help="Small files to write."
)
@click.option(
    "--workers", default=2, show_default=True, type=click.IntRange(1, 16), help="Migration Workers."
)
def demo(directory: str, files: int, workers: int) -> None:
    """Write small files, aggregate and archive them, purge, stage back, verify every byte."""
    from spoolq.demo.scenario import run_demo

    report = run_demo(directory, files=files, workers=workers, say=lambda text: click.echo(text, nl=False))
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
        *((f"messages {k}", v) for k, v in sorted(report.messages.items())),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        click.echo(f"{name:<{width}}  {value}")
    for problem in (report.lost + report.corrupted)[:10]:
        click.echo(f"problem: {problem}", err=True)
    sys.exit(exit_codes.OK if report.ok else exit_codes.FAILURE)
