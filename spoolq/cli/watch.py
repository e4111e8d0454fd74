"""``spoolq watch SPOOL``: run one component in the foreground until signalled.

The first SIGTERM or SIGINT drains (messages being handled finish, nothing
new is claimed); a second one stops at once (claims in flight stay locked and
are retried by any watcher once their lock is stale).  Signal handlers only
set flags; the main thread acts on them.  Exit 0 after a SIGTERM, 130 after a
SIGINT or a second signal (:mod:`spoolq.daemon.stop_signals`).
"""

from __future__ import annotations

import dataclasses
import logging
import sys

import click

from spoolq.cli.daemon_options import log_options
from spoolq.cli.group import main
from spoolq.cli.settings import Settings
from spoolq.config import ComponentConfig, RetryPolicy
from spoolq.daemon.child_process import report_ready
from spoolq.daemon.logs import configure_logging
from spoolq.daemon.stop_signals import STOP_SIGNALS, StopSignals
from spoolq.daemon.wakeup import WakeupPipe
from spoolq.errors import ConfigError
from spoolq.metrics.file import MetricsFile, metrics_path

log = logging.getLogger("spoolq.watch")


@main.command()
@click.argument("spool", required=False)
@click.option("--component", "component_name", help="Take every setting from this configured component.")
@click.option(
    "--handler",
    help="What handles each message (needed with SPOOL): a built-in name (echo, noop, command, panda), "
    "module:Class, module:func, or a name an installed package declares (entry-point group "
    "spoolq.handlers).  It consumes the messages; replies go to the reply spool.",
)
@click.option(
    "--option",
    "-o",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="A handler option (repeatable); 'command' is split like a shell would.",
)
@click.option("--workers", type=click.IntRange(1, 256), help="Worker threads [1].")
@click.option("--poll", is_flag=True, default=None, help="Poll instead of using inotify (NFS).")
@click.option(
    "--poll-interval",
    type=click.FloatRange(0.01),
    default=1.0,
    show_default=True,
    help="Seconds between polls with --poll.",
)
@click.option(
    "--rescan-interval",
    type=click.FloatRange(0.1),
    default=30.0,
    show_default=True,
    help="Seconds between full rescans with inotify.",
)
@click.option("--dropbox", type=click.Path(file_okay=False), help="Adopt complete files dropped here.")
@click.option("--reply-spool", help="Where replies go when a request has no reply-to [<component>_reply].")
@click.option("--max-attempts", type=click.IntRange(1), help="Attempts before a failing message is parked.")
@click.option("--max-size", type=click.IntRange(1), help="Bytes; larger elements are parked unread.")
@click.option("--lock-timeout", type=click.FloatRange(0.3), help="Seconds after which a claim is stale.")
@click.option(
    "--tick",
    type=click.FloatRange(0, min_open=True),
    metavar="SECONDS",
    help="Put a TICK into the spool this often (timers of policy_engine, migration_dispatcher).",
)
@click.option("--name", help="Component name (metrics, default reply spool) [the spool name].")
@log_options
@click.pass_obj
def watch(
    settings: Settings,
    spool: str | None,
    component_name: str | None,
    log_level: str,
    log_json: bool,
    poll_interval: float,
    rescan_interval: float,
    **overrides,
) -> None:
    """Handle messages of SPOOL the moment they land, until SIGTERM or SIGINT."""
    from spoolq.component import Component

    configure_logging(json=log_json, level=log_level)
    settings.apply_umask()
    config = _component_config(settings, spool, component_name, overrides)
    root = settings.root(existing=False)
    wakeup = WakeupPipe(STOP_SIGNALS)  # and the component's pokes: ready, ended
    component = Component(
        config,
        root,
        rescan_interval=rescan_interval,
        poll_interval=poll_interval,
        node=settings.config.node,
        source=settings.config.path,
        on_change=wakeup.poke,
    )
    path = metrics_path(root.path, settings.config.metrics_dir, config.name)
    metrics_file = MetricsFile(component.metrics, path, component.spool, settings.config.metrics_interval)
    code = _serve(component, metrics_file, wakeup)
    if code:
        sys.exit(code)


def _component_config(
    settings: Settings, spool: str | None, component_name: str | None, overrides: dict
) -> ComponentConfig:
    if component_name:
        known = {c.name: c for c in settings.config.components}
        if component_name not in known:
            where = settings.config.path or "no configuration file"
            raise ConfigError(f"{where}: no component named {component_name!r} (known: {sorted(known)})")
        base = known[component_name]
    elif spool:
        if not overrides.get("handler"):
            # A handler consumes messages and may write replies: never one chosen behind the operator's back.
            raise click.UsageError(
                "give --handler: what to do with each message of "
                f"{spool} (e.g. --handler echo answers each with itself), or --component NAME"
            )
        base = ComponentConfig(name=overrides.get("name") or spool, spool=spool, handler=overrides["handler"])
    else:
        raise ConfigError("give a SPOOL to watch, or --component NAME from the configuration file")
    changes = {}
    for key in ("handler", "workers", "poll", "dropbox", "reply_spool", "max_size", "lock_timeout", "tick"):
        if overrides.get(key) is not None:
            changes[key] = overrides[key]
    if spool and component_name:
        changes["spool"] = spool
    if overrides.get("options"):
        changes["options"] = {**base.options, **_parse_options(overrides["options"])}
    if overrides.get("max_attempts") is not None:
        changes["retry"] = dataclasses.replace(
            base.retry or RetryPolicy(), max_attempts=overrides["max_attempts"]
        )
    return dataclasses.replace(base, **changes)


def _parse_options(pairs: tuple[str, ...]) -> dict[str, str]:
    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--option {pair!r}: expected KEY=VALUE")
        options[key] = value
    return options


def _serve(component, metrics_file: MetricsFile, wakeup: WakeupPipe) -> int:
    """Run ``component`` until drained or stopped; the main thread sleeps in ``wakeup``.

    It wakes for a signal, and for the component's pokes when it becomes
    ready or ends (:mod:`spoolq.daemon.wakeup`): an idle watcher's main thread
    never runs, and no signal is missed.  Returns the exit code the signals
    call for.
    """
    stops = StopSignals()
    with wakeup:
        try:
            component.start()
            metrics_file.start()
            draining = reported = False
            while True:
                received, _ = wakeup.wait()
                for number in received:
                    stops.add(number)
                if not reported and component.ready.is_set():
                    reported = True
                    report_ready()  # to `spoolq run`, through $SPOOLQ_READY_FD
                if stops.forced:
                    component.stop()
                    log.warning("%s: stopped; the next to start takes over its claims", component.config.name)
                    return stops.exit_code()
                if stops.stopping and not draining:
                    draining = True
                    component.drain()
                if component.ended.is_set():
                    component.join()  # its threads are past their work: at once
                    if not draining:
                        raise click.ClickException("the component ended unexpectedly")
                    metrics_file.write()
                    log.info("%s: drained", component.config.name)
                    return stops.exit_code()
        finally:
            metrics_file.stop()
