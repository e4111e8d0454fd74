"""``spoolq stats``: how full each spool is, as a table or JSON lines.

:func:`collect` gathers the figures once; each output form is one small
function over its records, so that another form (a metrics exposition, say)
is one more function and one more option beside ``--json``.
"""

from __future__ import annotations

from dataclasses import asdict

import click

from spoolq import metrics
from spoolq.cli.group import main
from spoolq.cli.output import emit_records, open_parked, open_spool, warn_of_strangers
from spoolq.cli.settings import Settings
from spoolq.shippers.status import SHIPPER_COLUMNS, shipper_rows
from spoolq.spool import SpoolRoot

COLUMNS = ("spool", "ready", "locked", "temporary", "parked", "oldest_age", "bytes")


def collect(root: SpoolRoot, names: tuple[str, ...] | list[str]) -> list[dict]:
    """One record per spool: ready, locked, temporary, parked, oldest_age, bytes."""
    records = []
    for name in names:
        stats = open_spool(root, name).stats()
        parked = open_parked(root, name)
        record = {"spool": name, **asdict(stats)}
        record["parked"] = parked.count() if parked is not None else 0
        records.append({column: record[column] for column in COLUMNS})
    return records


@main.command()
@click.argument("spools", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per spool, one a line.")
@click.option("--prom", is_flag=True, help="Prometheus text: spools, components' and shippers' metrics.")
@click.pass_obj
def stats(settings: Settings, spools: tuple[str, ...], as_json: bool, prom: bool) -> None:
    """Per spool: ready, locked, temporary and parked elements, oldest age, bytes.

    With no SPOOL, every spool of the root.
    """
    root = settings.root()
    if prom:
        click.echo(metrics.prometheus_stats(root, settings.config.metrics_dir, spools), nl=False)
        return
    emit_records(collect(root, spools or root.spool_names()), COLUMNS, as_json)
    if not spools:  # and the shippers running on this root (spoolq.shippers.status)
        shippers = shipper_rows(root.path)
        if shippers and not as_json:
            click.echo()
        emit_records(shippers, SHIPPER_COLUMNS, as_json)
        warn_of_strangers(root)
