"""Relaying through a broker: ``spoolq ship`` and ``spoolq receive``.

Both run a ``[shippers.NAME]`` of the configuration file until SIGTERM or
SIGINT: the first signal drains (sends in flight wait for their receipts,
received batches are written and acked), a second one exits at once.  Exit 0
after a SIGTERM, 130 after a SIGINT or a second signal
(:mod:`spoolq.daemon.stop_signals`).

``--ssm-config sender.cfg`` (``receiver.cfg``, with ``-d DNFILE``) runs the
shipper that APEL SSM's own file describes (:mod:`spoolq.config.ssm`), in
place of ``ssmsend`` (``ssmreceive``).

Run by hand, a shipper whose login every host of the broker refuses exits
with the configuration error code (4): no retry mends a wrong password.
Under ``spoolq run`` (which hands it ``$SPOOLQ_READY_FD``) it keeps trying,
every ``backoff_max`` seconds, and ``spoolq stats`` shows ``login refused``.
"""

from __future__ import annotations

import os
import signal
import sys

import click

from spoolq.cli.daemon_options import log_options
from spoolq.cli.group import main
from spoolq.cli.settings import Settings
from spoolq.config.ssm import DEFAULT_DN_FILE, RECEIVER, SENDER, load_ssm_config
from spoolq.daemon.child_process import READY_FD_ENV, report_ready
from spoolq.daemon.logs import configure_logging
from spoolq.daemon.stop_signals import STOP_SIGNALS, StopSignals
from spoolq.errors import ConfigError
from spoolq.shippers import build_shipper
from spoolq.shippers.config import shipping_of


def command_for_kind(kind: str) -> str:
    """The command that runs a shipper of ``kind``: ``receive`` for receivers, ``ship`` for every other kind.

    A kind from an installed package (entry-point group ``spoolq.shippers``)
    runs under ``spoolq ship``, with the same signals and readiness report.
    """
    return "receive" if kind == "receive" else "ship"


def _run(settings: Settings, name: str, command: str, log_json: bool, log_level: str) -> None:
    configure_logging(json=log_json, level=log_level)
    settings.apply_umask()
    shipping = shipping_of(settings.config)
    config = shipping.shipper(name)
    if command_for_kind(config.kind) != command:
        raise ConfigError(
            f"{shipping.path}: shippers.{name} has kind = {config.kind!r}; "
            f"use 'spoolq {command_for_kind(config.kind)}'"
        )
    shipper = build_shipper(
        settings.root(existing=False),
        shipping,
        name,
        metrics_dir=settings.config.metrics_dir,
        metrics_interval=settings.config.metrics_interval,
    )
    shipper.exit_on_login_refused = READY_FD_ENV not in os.environ  # by hand, not under `spoolq run`
    stops = StopSignals()

    def on_signal(signum, frame):  # only sets flags (the second signal forces)
        stops.add(signum)
        if stops.forced:
            os._exit(stops.exit_code())
        shipper.stop()

    for signum in STOP_SIGNALS:
        signal.signal(signum, on_signal)
    shipper.run(on_started=report_ready)  # to `spoolq run`, through $SPOOLQ_READY_FD
    sys.exit(stops.exit_code())


def _shipper_name(settings: Settings, name: str | None, ssm_config: str | None, role: str, dns=None) -> str:
    """The shipper to run: ``--shipper``, or the one APEL SSM's file given by ``--ssm-config`` makes."""
    if (name is None) == (ssm_config is None):
        raise click.UsageError("give either --shipper NAME or --ssm-config FILE")
    if ssm_config is None:
        if dns is not None:
            raise click.UsageError("--dn-file goes with --ssm-config (a TOML file names its allow_list)")
        return name
    config = load_ssm_config(ssm_config, role, dns)
    _check_root(settings, config, ssm_config, role)
    settings.use_config(config)
    return role


def _check_root(settings: Settings, config, ssm_config: str, role: str) -> None:
    """A dirq outgoing store *is* a spool of its parent: another root would send another spool."""
    shipper = config.shippers[role]
    chosen = settings.root_option
    if role != SENDER or "dropbox" in shipper or not chosen:
        return
    if os.path.realpath(chosen) != os.path.realpath(config.root):
        raise ConfigError(
            f"{ssm_config}: [messaging] path is the spool {shipper['spool']!r} of the root {config.root},"
            f" but --root (or SPOOLQ_ROOT) names {chosen}: leave it out"
        )


_SSM_CONFIG_HELP = "APEL SSM's {} to run instead of a [shippers.NAME] table (docs/apel-ssm.md)."


@main.command()
@click.option(
    "--shipper",
    "name",
    help='The [shippers.NAME] table to run (kind = "ship" or an installed kind).',
)
@click.option("--ssm-config", type=click.Path(dir_okay=False), help=_SSM_CONFIG_HELP.format("sender.cfg"))
@log_options
@click.pass_obj
def ship(
    settings: Settings, name: str | None, ssm_config: str | None, log_json: bool, log_level: str
) -> None:
    """Send an outgoing spool to its broker destination, removing what the broker confirmed."""
    name = _shipper_name(settings, name, ssm_config, SENDER)
    _run(settings, name, "ship", log_json, log_level)


@main.command()
@click.option("--shipper", "name", help='The [shippers.NAME] table to run (kind = "receive").')
@click.option("--ssm-config", type=click.Path(dir_okay=False), help=_SSM_CONFIG_HELP.format("receiver.cfg"))
@click.option(
    "--dn-file",
    "-d",
    type=click.Path(dir_okay=False),
    help=f"With --ssm-config: the DNs allowed to send, as ssmreceive -d [default {DEFAULT_DN_FILE}].",
)
@log_options
@click.pass_obj
def receive(
    settings: Settings,
    name: str | None,
    ssm_config: str | None,
    dn_file: str | None,
    log_json: bool,
    log_level: str,
) -> None:
    """Write messages from this node's broker destination into local spools, acking after the write."""
    name = _shipper_name(settings, name, ssm_config, RECEIVER, dn_file)
    _run(settings, name, "receive", log_json, log_level)
