"""The README's shell recipes work as written: the CLI tour and the drop with printf and mv."""

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import cli_env

README = Path(__file__).resolve().parent.parent / "README.md"
RUNS_UNTIL_STOPPED = ("spoolq tail -f", "spoolq watch", "spoolq -c spoolq.toml")  # daemons, and a config
NOT_RUN = (*RUNS_UNTIL_STOPPED, "spoolq demo")  # and the demo: minutes long, tests/test_demo_nodes.py runs it
LIVE_VIEWS = ("spoolq top",)  # refreshed until stopped (its --once is run)


def runs_in_the_tour(line: str) -> bool:
    command = line.split("#", 1)[0].strip()
    return not command.startswith(NOT_RUN) and command not in LIVE_VIEWS


def shell_block(section: str) -> str:
    """The first ```sh block after the heading ``## SECTION`` of the README."""
    text = README.read_text()
    after = text[text.index(f"## {section}\n") :]
    return re.search(r"```sh\n(.*?)```", after, re.S).group(1)


def run_shell(script: str, cwd: Path) -> subprocess.CompletedProcess:
    """``script`` under bash -e, ``spoolq`` being this checkout's, run as ``python -m spoolq``."""
    prelude = f'set -euo pipefail\nspoolq() {{ "{sys.executable}" -m spoolq "$@"; }}\n'
    return subprocess.run(
        ["bash", "-c", prelude + script], cwd=cwd, capture_output=True, env=cli_env(), timeout=120
    )


def test_the_cli_tour_runs_as_written(tmp_path):
    lines = [line for line in shell_block("The CLI").splitlines() if runs_in_the_tour(line)]
    script = "\n".join(lines).replace("/var/spool/spoolq", str(tmp_path / "spoolq"))
    result = run_shell(script, tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    assert "CACHE_WRITTEN" in out and '{"file": {"id": "0001"}}' in out, out


def test_the_printf_drop_lands_in_the_demo_s_spool(tmp_path):
    """The recipe's spool path is the demo's (run from the clone, the demo's root is spool/root)."""
    made = run_shell("spoolq --root spool/root init pe", tmp_path)
    assert made.returncode == 0, made.stderr.decode()
    result = run_shell(shell_block("A drop from the shell"), tmp_path)
    assert result.returncode == 0 and result.stderr == b"", result.stderr.decode()
    listing = run_shell("spoolq --root spool/root ls pe", tmp_path)
    assert listing.returncode == 0 and "CACHE_WRITTEN" in listing.stdout.decode(), listing.stderr.decode()
