"""``spoolq run``: start every configured component and shipper and supervise them (see spoolq.supervisor)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import click

from spoolq.cli.check import check_in_child
from spoolq.cli.daemon_options import log_options
from spoolq.cli.group import main
from spoolq.cli.settings import Settings
from spoolq.cli.ship import command_for_kind
from spoolq.config import Config, find_config, load_config
from spoolq.daemon.logs import configure_logging, environment_for_children
from spoolq.daemon.run_plan import SHIPPER, ChildSpec
from spoolq.daemon.self_command import SPOOLQ_COMMAND
from spoolq.daemon.supervisor import Supervisor
from spoolq.errors import ConfigError
from spoolq.metrics.endpoint import MetricsEndpoint
from spoolq.metrics.export import root_registry


def child_command(config_path: str, root: str) -> Callable[[ChildSpec], list[str]]:
    """The command line of one child: ``spoolq watch --component NAME``, ``spoolq ship --shipper NAME``.

    A receiving shipper runs ``spoolq receive --shipper NAME``.
    """

    def command_for(spec: ChildSpec) -> list[str]:
        base = [*SPOOLQ_COMMAND, "-c", config_path, "--root", root]
        if spec.family == SHIPPER:
            shipper, _destination, _broker = spec.settings
            return [*base, command_for_kind(shipper.kind), "--shipper", spec.name]
        return [*base, "watch", "--component", spec.name]

    return command_for


@main.command()
@click.option(
    "--restart-cap",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    help="Longest wait, in seconds, before a crashed component or shipper is started again.",
)
@log_options
@click.pass_obj
def run(settings: Settings, restart_cap: float, log_json: bool, log_level: str) -> None:
    """Run every enabled component and shipper of the configuration, each in its own process.

    The configuration is checked first as by `spoolq check`, and again on
    each reload.  SIGTERM or SIGINT drains (a second one stops at once), SIGHUP reloads the
    configuration, a crashed child is restarted with backoff.  With
    `metrics_listen` set, every figure of the root is served on /metrics there.
    """
    configure_logging(json=log_json, level=log_level)
    path = find_config(settings.config_option)
    if path is None:
        raise ConfigError("spoolq run needs a configuration file: give --config or set SPOOLQ_CONFIG")
    path = os.path.abspath(path)
    config: Config = settings.config
    settings.apply_umask()
    spool_root = settings.root(existing=False)
    root = os.path.abspath(spool_root.path)
    check_in_child(config, root)  # a bad shipper table or handler: one clear error, before anything starts

    def reload() -> Config:
        reloaded = load_config(path)  # read once: checked, applied and handed down as read
        check_in_child(reloaded, root)
        return reloaded

    supervisor = Supervisor(
        config,
        reload=reload,
        command_for=child_command(path, root),
        env={**os.environ, **environment_for_children(log_json, log_level)},
        restart_cap=restart_cap,
    )
    if config.metrics_listen is None:
        sys.exit(supervisor.run())
    host, port = config.metrics_listen
    with MetricsEndpoint(root_registry(spool_root, config.metrics_dir), host, port):
        code = supervisor.run()
    sys.exit(code)
