"""The demo site: directories, the configuration of its components, and ``spoolq run``.

Layout under the demo directory (default ``./spool``)::

    spool/.spoolq-demo    marker: only a tree carrying it is ever wiped
    spool/spoolq.toml     the components: pe, pe_reply, md, md_reply, mwN, mwN_status
    spool/run.log         what ``spoolq run`` and its children logged
    spool/root/           the spool root (spools, .state, parked)
    spool/cache/          the disk cache
    spool/archive/        the archive standing in for tape (containers, .files records)
    spool/nodes/NODE/     the demo across nodes: each node's spoolq.toml, run.log and root
    spool/brokers/        the demo across nodes: its RabbitMQ cluster's data and logs

The components run as real child processes of ``spoolq run``, one process each.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess

from spoolq.daemon.self_command import SPOOLQ_COMMAND
from spoolq.errors import SpoolqError

MARKER = ".spoolq-demo"
TICK_SECONDS = 0.5  # the `tick` of pe and md


DEMO_ENTRIES = ("root", "cache", "archive", "nodes", "brokers", "spoolq.toml", "run.log", MARKER)


def prepare(directory: str) -> dict[str, str]:
    """Wipe the previous demo tree and lay out a new one in ``directory``.

    Only the demo's own entries (:data:`DEMO_ENTRIES`) are touched, so other
    files there (the repository's ``spool/README.md``) stay.  Entries of those
    names that the demo did not make (no marker) are refused, never removed.
    """
    present = [name for name in DEMO_ENTRIES if os.path.lexists(os.path.join(directory, name))]
    if present and MARKER not in present:
        raise SpoolqError(
            f"{directory}: exists and is not a demo tree (it has {', '.join(present)}); choose another --root"
        )
    for name in present:
        path = os.path.join(directory, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    paths = {name: os.path.abspath(os.path.join(directory, name)) for name in ("root", "cache", "archive")}
    for path in paths.values():
        os.makedirs(path)
    open(os.path.join(directory, MARKER), "w").close()
    for name in ("nodes", "brokers"):  # made by the demo across nodes only
        paths[name] = os.path.abspath(os.path.join(directory, name))
    paths["config"] = os.path.abspath(os.path.join(directory, "spoolq.toml"))
    paths["log"] = os.path.abspath(os.path.join(directory, "run.log"))
    return paths


def component_table(name: str, spool: str, handler: str, options: dict, tick: float | None = None) -> str:
    lines = [f"[components.{name}]", f'handler = "{handler}"', f'spool = "{spool}"']
    if tick is not None:
        lines.append(f"tick = {tick}")
    lines.append(f"[components.{name}.options]")
    lines += [f"{key} = {json.dumps(value)}" for key, value in options.items()]
    return "\n".join(lines) + "\n"


def write_config(paths: dict[str, str], workers: int, engine: dict, durable: bool) -> None:
    """The demo's ``spoolq.toml``: every Enstore component, workers with their status spools.

    ``pe`` and ``md`` tick twice a second, so that group ages and worker silences
    are checked while nothing else arrives.
    """
    parts = [f'root = "root"\ndurable = {json.dumps(durable)}\n']
    dispatcher = {"part_files": 500, "silence": 5.0}
    parts.append(component_table("pe", "pe", "policy_engine", engine, tick=TICK_SECONDS))
    parts.append(component_table("pe_reply", "pe_reply", "policy_engine", engine))
    parts.append(component_table("md", "md", "migration_dispatcher", dispatcher, tick=TICK_SECONDS))
    parts.append(component_table("md_reply", "md_reply", "migration_dispatcher", dispatcher))
    for n in range(1, workers + 1):
        options = {"worker_id": f"w{n}", "archive": paths["archive"], "cache": paths["cache"]}
        parts.append(component_table(f"mw{n}", "mw", "migration_worker", options))
        parts.append(component_table(f"mw{n}_status", f"mw_w{n}", "migration_worker", options))
    with open(paths["config"], "w", encoding="utf-8") as handle:
        handle.write("\n".join(parts))


def start_run(paths: dict[str, str], popen=subprocess.Popen) -> subprocess.Popen:
    """``spoolq -c spool/spoolq.toml run`` as a child, in its own process group.

    ``popen`` starts it where it must run: a test host's ``popen`` runs it
    inside that host's network namespace (the demo across nodes).
    """
    with open(paths["log"], "ab") as log:  # the child keeps its own copy of the descriptor
        return popen(
            [*SPOOLQ_COMMAND, "-c", paths["config"], "run", "--log-level", "WARNING"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )


def stop_run(process: subprocess.Popen, timeout: float = 20) -> None:
    """Drain (SIGTERM); if that takes too long, kill the whole process group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
            return
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
