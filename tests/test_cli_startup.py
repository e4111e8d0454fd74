"""The everyday commands start without the libraries only the daemons need.

Operators run ``spoolq put`` and ``spoolq stats`` in shell loops and cron jobs,
where start-up is the whole cost.  prometheus_client, the STOMP client and the
X.509 parser are for ``run``, ``watch``, ``ship``, ``receive`` and the metrics
readers; subprocess for the commands that start processes; hashlib for none of
them.  Each command here is run as a user runs it, under ``python -X
importtime``, which names every module the process imported.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import spoolq.cli
from spoolq.cli.group import COMMAND_MODULES, main
from tests.conftest import cli_env, run_cli

#: Libraries a plain command must not import: the daemons' and metrics readers' alone;
#: subprocess, for the commands that start processes (run, check, demo); and hashlib
#: (OpenSSL's), which a random file name does not need.
NOT_FOR_PLAIN_COMMANDS = ("prometheus_client", "stomp", "cryptography", "subprocess", "hashlib")


def modules_imported_by(*args: str) -> set[str]:
    """Every module ``spoolq ARGS`` imported, by name, once it has succeeded."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "spoolq", *args],
        capture_output=True,
        env=cli_env(),
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    lines = done.stderr.decode().splitlines()
    return {line.rsplit("|", 1)[1].strip() for line in lines if line.startswith("import time:")}


def not_for_plain_commands_in(modules: set[str]) -> list[str]:
    return sorted(name for name in modules if name.split(".")[0] in NOT_FOR_PLAIN_COMMANDS)


@pytest.fixture
def root_with_a_message(tmp_path: Path) -> tuple[str, str]:
    """A root holding spool ``pe`` with one message; the root's path and the message's id."""
    root = str(tmp_path / "root")
    assert run_cli("--root", root, "init", "pe").returncode == 0
    done = run_cli("--root", root, "put", "pe", "hello")
    assert done.returncode == 0, done.stderr
    return root, done.stdout.decode().strip()


@pytest.mark.parametrize(
    "command",
    [
        ("put", "pe", "another"),
        ("ls", "pe"),
        ("show", "pe", "{id}"),
        ("tail", "pe"),
        ("replay", "pe", "--dry-run"),
        ("stats",),
        ("stats", "pe", "--json"),
        ("find", "{id}"),
        ("retry", "pe", "--dry-run"),
    ],
    ids=lambda command: command[0],
)
def test_a_plain_command_imports_no_daemon_library_and_no_subprocess(root_with_a_message, command):
    root, element = root_with_a_message
    args = [part.format(id=element) for part in command]
    assert not_for_plain_commands_in(modules_imported_by("--root", root, *args)) == []


def test_stats_prom_still_loads_the_metrics_library(root_with_a_message):
    root, _ = root_with_a_message
    assert "prometheus_client" in modules_imported_by("--root", root, "stats", "--prom")


def test_the_command_table_names_every_command_and_the_module_defining_it():
    for found in pkgutil.iter_modules(spoolq.cli.__path__):
        importlib.import_module(f"spoolq.cli.{found.name}")
    defined_in = {name: command.callback.__module__ for name, command in main.commands.items()}
    assert defined_in == {name: f"spoolq.cli.{module}" for name, module in COMMAND_MODULES.items()}
