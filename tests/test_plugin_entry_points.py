"""A separately installed package offers a handler, a writer and a shipper kind by short name.

The package is built here, from a ``setup.cfg`` declaring entry points in the
groups ``spoolq.handlers``, ``spoolq.writers`` and ``spoolq.shippers``, and
pip-installed into a directory of its own (the test's interpreter is left
alone); the spoolq processes see it through ``PYTHONPATH``, as they would see
a package installed beside spoolq.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import cli_env

from spoolq.message import Message
from spoolq.spool import SpoolRoot
from tests.waiting import wait_until

PACKAGE = '''
"""A third-party spoolq plugin package: one plugin of each family."""

from spoolq.handlers.base import Handler
from spoolq.message import Message
from spoolq.shippers.base import Shipper
from spoolq.writers.base import Writer


class Shout(Handler):
    def handle(self, message, context):
        return Message.new("SHOUTED", message.body_bytes.decode().upper())


class Whisper(Writer[str]):
    def write(self, item: str) -> str:
        return self.emit("whispers", Message.new("WHISPER", item.lower()))


class Pigeon(Shipper):
    kind = "pigeon"

    def pump(self, link) -> bool:
        return False
'''

SETUP_CFG = """
[metadata]
name = shoutpkg
version = 0.1

[options]
py_modules = shoutpkg

[options.entry_points]
spoolq.handlers =
    shout = shoutpkg:Shout
spoolq.writers =
    whisper = shoutpkg:Whisper
spoolq.shippers =
    pigeon = shoutpkg:Pigeon
"""

PYPROJECT = """
[build-system]
requires = ["setuptools>=61", "wheel"]
build-backend = "setuptools.build_meta"
"""


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory) -> Path:
    """The directory the plugin package was pip-installed into."""
    base = tmp_path_factory.mktemp("plugin")
    package = base / "shoutpkg"
    package.mkdir()
    (package / "shoutpkg.py").write_text(PACKAGE)
    (package / "setup.cfg").write_text(SETUP_CFG)
    (package / "pyproject.toml").write_text(PYPROJECT)
    site = base / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--no-index"]
        + ["--target", str(site), str(package)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert installed.returncode == 0, installed.stderr
    return site


def env_with(site: Path) -> dict[str, str]:
    env = cli_env()
    env["PYTHONPATH"] = env["PYTHONPATH"] + os.pathsep + str(site)
    return env


def run_python(site: Path, code: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        env=env_with(site),
        timeout=60,
    )


def test_watch_runs_a_handler_an_installed_package_declares(plugin_site, root_dir, tmp_path):
    root = SpoolRoot(root_dir)
    root.spool("pe").put(Message.new("PING", "hello"))
    with open(tmp_path / "watch.log", "wb") as log:
        watcher = subprocess.Popen(
            [sys.executable, "-m", "spoolq", "--root", str(root_dir), "watch", "pe", "--handler", "shout"],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=env_with(plugin_site),
        )
        try:
            replies = root.spool("pe_reply")
            wait_until(
                lambda: any(True for _ in replies.names()) or watcher.poll() is not None, what="the reply"
            )
            assert watcher.poll() is None, (tmp_path / "watch.log").read_text()
            (name,) = replies.names()
            reply = replies.get(name)
            assert (reply.type, reply.body_bytes) == ("SHOUTED", b"HELLO")
            watcher.send_signal(signal.SIGTERM)
            assert watcher.wait(timeout=10) == 0
        finally:
            if watcher.poll() is None:
                watcher.kill()
                watcher.wait()


def test_a_writer_an_installed_package_declares_is_found_by_name(plugin_site, root_dir):
    code = """
        import sys
        from spoolq.spool import SpoolRoot
        from spoolq.writers.registry import writer_class

        print(writer_class("whisper")(SpoolRoot(sys.argv[1])).write("QUIET PLEASE"))
    """
    result = run_python(plugin_site, code, str(root_dir))
    assert result.returncode == 0, result.stderr
    message = SpoolRoot(root_dir).spool("whispers").get(result.stdout.strip())
    assert (message.type, message.body_bytes) == ("WHISPER", b"quiet please")


PIGEON_CONFIG = """
root = "root"

[brokers.main]
hosts = ["127.0.0.1:61613"]

[destinations.loft]
broker = "main"
address = "/queue/loft"

[shippers.carrier]
kind = "{kind}"
destination = "loft"
spool = "outgoing"
"""


def check_shipper_kind(plugin_site, tmp_path, kind: str):
    """``spoolq check`` of a configuration whose one shipper is of ``kind``: (the file, the run)."""
    config = tmp_path / "spoolq.toml"
    (tmp_path / "root").mkdir()
    config.write_text(PIGEON_CONFIG.format(kind=kind))
    check = subprocess.run(
        [sys.executable, "-m", "spoolq", "-c", str(config), "check"],
        capture_output=True,
        text=True,
        env=env_with(plugin_site),
        timeout=60,
    )
    return config, check


def test_a_shipper_kind_an_installed_package_declares_is_checked_and_built(plugin_site, tmp_path):
    config, check = check_shipper_kind(plugin_site, tmp_path, "pigeon")
    assert check.returncode == 0, check.stderr
    code = """
        import sys
        from spoolq.spool import SpoolRoot
        from spoolq.shippers import build_shipper
        from spoolq.shippers.config import load_shipping

        shipper = build_shipper(SpoolRoot(sys.argv[2]), load_shipping(sys.argv[1]), "carrier")
        print(type(shipper).__module__, type(shipper).__name__, shipper.kind)
    """
    built = run_python(plugin_site, code, str(config), str(tmp_path / "root"))
    assert built.returncode == 0, built.stderr
    assert built.stdout.split() == ["shoutpkg", "Pigeon", "pigeon"]


def test_an_unknown_shipper_kind_is_one_line_naming_what_is_installed(plugin_site, tmp_path):
    _config, check = check_shipper_kind(plugin_site, tmp_path, "owl")
    assert check.returncode == 4
    assert "shipper kind 'owl': not a built-in (receive, ship)" in check.stderr
    assert "(installed: pigeon)" in check.stderr
