"""``spoolq check``, and ``spoolq run`` refusing a configuration whose handlers cannot be loaded."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from tests.conftest import cli_env
from tests.run_helpers import component_table, running

GOOD = component_table("pe") + '[components.cmd]\nhandler = "command"\noptions = { command = ["cat"] }\n'
BROKEN = """\
[components.pe]
handler = "tests.no_such_module:Handler"
[components.typed]
handler = "echo"
types = { CACHE_WRITTEN = "tests.run_handlers:no_such_function" }
[components.cmd]
handler = "command"
[components.db]
handler = "tests.run_handlers:NeedsDatabase"
[components.off]
handler = "tests.no_such_module:Handler"
enable = false
[components.fine]
handler = "noop"
"""


def check(tmp_path, text: str) -> subprocess.CompletedProcess:
    config = tmp_path / "spoolq.toml"
    config.write_text(text)
    return subprocess.run(
        [sys.executable, "-m", "spoolq", "-c", str(config), "--root", str(tmp_path / "root"), "check"],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
    )


def test_a_sound_configuration_checks_and_says_what_would_run(tmp_path):
    result = check(tmp_path, GOOD)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{tmp_path / 'spoolq.toml'}: 2 components, every handler loads\n"
    assert not (tmp_path / "root").exists()  # a check writes nothing


def test_every_handler_problem_is_one_line_naming_file_component_and_cause(tmp_path):
    result = check(tmp_path, BROKEN)
    assert result.returncode == 4
    path = tmp_path / "spoolq.toml"
    assert result.stderr.splitlines() == [
        f"spoolq: error: {path}: component pe: handler 'tests.no_such_module:Handler':"
        " cannot import module 'tests.no_such_module': No module named 'tests.no_such_module'",
        f"spoolq: error: {path}: component typed: type CACHE_WRITTEN:"
        " handler 'tests.run_handlers:no_such_function':"
        " module 'tests.run_handlers' has no 'no_such_function'",
        f"spoolq: error: {path}: component cmd: handler 'command':"
        " option 'command' must be a program and its arguments",
        f"spoolq: error: {path}: component db: handler 'tests.run_handlers:NeedsDatabase' cannot be"
        " constructed: RuntimeError('option database is required, got []')",
    ]  # the disabled component is not run, so not checked
    assert result.stdout == ""


def test_a_bad_shipper_table_is_reported_beside_the_handlers(tmp_path):
    shipper = '[shippers.out]\ndestination = "nowhere"\nspool = "outgoing"\n'
    result = check(tmp_path, component_table("pe") + '[components.cmd]\nhandler = "command"\n' + shipper)
    assert result.returncode == 4
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    assert "shippers.out.destination" in lines[0] and "component cmd" in lines[1]


def test_an_invalid_file_is_its_one_line(tmp_path):
    result = check(tmp_path, '[components.pe]\nhandler = "echo"\nworkers = 0\n')
    assert result.returncode == 4
    assert result.stderr.splitlines() == [
        f"spoolq: error: {tmp_path / 'spoolq.toml'}: components.pe.workers: must be >= 1, not 0"
    ]


def test_watch_names_the_file_and_component_of_a_handler_it_cannot_load(tmp_path):
    config = tmp_path / "spoolq.toml"
    config.write_text(BROKEN)
    result = subprocess.run(
        [sys.executable, "-m", "spoolq", "-c", str(config), "--root", str(tmp_path / "root")]
        + ["watch", "--component", "pe"],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
    )
    assert result.returncode == 4
    assert result.stderr.startswith(f"spoolq: error: {config}: component pe: handler 'tests.no_such_module")


@pytest.mark.timeout(60)
def test_run_refuses_to_start_what_does_not_check(tmp_path):
    with running(tmp_path) as start:
        config = tmp_path / "broken.toml"
        config.write_text(component_table("pe") + '[components.cmd]\nhandler = "command"\n')
        run = start(config=config)
        assert run.wait() == 4
        assert "component cmd: handler 'command': option 'command'" in run.log()
        assert "started component" not in run.log()  # nothing was started, so nothing restarts


@pytest.mark.timeout(60)
def test_sighup_with_a_handler_that_cannot_load_keeps_the_running_configuration(tmp_path):
    with running(tmp_path) as start:
        run = start("pe")
        run.wait_for_log("all 1 component ready")
        new = '[components.new]\nhandler = "tests.no_such_module:H"\n'
        run.config.write_text(component_table("pe") + new)
        run.signal(signal.SIGHUP)
        run.wait_for_log(
            "configuration reload failed, keeping the running configuration: "
            r".*component new: handler 'tests.no_such_module:H': cannot import module"
        )
        assert run.ask("pe").body == "hello by pe"
        assert "started component new" not in run.log()
        run.signal(signal.SIGTERM)
        assert run.wait() == 0
