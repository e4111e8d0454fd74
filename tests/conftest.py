"""Shared fixtures: real directories, the CLI run as a user runs it, no leaked threads."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from spoolq.component import Component
from spoolq.spool import SpoolRoot
from tests.ci_skips import pytest_runtest_makereport  # noqa: F401  (under CI, unexplained skips fail)
from tests.ssm_peer import ssm  # noqa: F401  (the real APEL SSM, built once per test run)

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Fail a test that leaves a thread running behind it."""
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    for thread in leaked:
        thread.join(timeout=5)
    leaked = [t for t in leaked if t.is_alive()]
    assert not leaked, f"test leaked threads: {leaked}"


@pytest.fixture
def serving():
    """``serving(config, root, **keywords)``: a started, ready Component; each drained at the test's end.

    A test may drain one earlier itself (to assert what draining leaves):
    draining again at the end does nothing.
    """
    started: list[Component] = []

    def start(config, root: SpoolRoot, **keywords) -> Component:
        component = Component(config, root, **keywords)
        component.start()
        started.append(component)
        assert component.ready.wait(10)
        return component

    yield start
    for component in started:
        component.drain()
        assert component.join(15), "a thread of the component did not end"


@pytest.fixture
def root_dir(tmp_path: Path) -> Path:
    """An empty directory to use as a spool root."""
    path = tmp_path / "root"
    path.mkdir()
    return path


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Path:
    """A 64 KiB tmpfs, to fill the disk for real (skips where mounting is not allowed)."""
    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)


@pytest.fixture
def root(root_dir: Path) -> SpoolRoot:
    """A spool root with one intermediate directory a second, so new directories appear often."""
    return SpoolRoot(root_dir, granularity=1)


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("SPOOLQ_ROOT", None)
    env.pop("SPOOLQ_CONFIG", None)
    env.update(extra)
    return env


def run_cli(*args: str, input: bytes | str | None = None, cwd=None, env=None, timeout=60):
    """Run ``spoolq ARGS`` in a subprocess, as a user would; return the CompletedProcess."""
    if isinstance(input, str):
        input = input.encode()
    return subprocess.run(
        [sys.executable, "-m", "spoolq", *args],
        input=input,
        capture_output=True,
        cwd=cwd,
        env=env or cli_env(),
        timeout=timeout,
    )


@pytest.fixture
def cli():
    """``cli("ls", "pe")`` runs the spoolq command in a subprocess."""
    return run_cli


def _started(product, directory):
    """A test broker of ``product`` in ``directory``, started; closed after the session."""
    node = product(directory)
    try:
        node.start()
        yield node
    finally:
        node.close()


@pytest.fixture(scope="session")
def rabbitmq(tmp_path_factory):
    """A real RabbitMQ node with STOMP on 127.0.0.1, started once per session (spoolq/testbed/broker.py)."""
    from spoolq.testbed.broker import Broker

    yield from _started(Broker, tmp_path_factory.mktemp("rabbitmq"))


@pytest.fixture(scope="session")
def activemq(tmp_path_factory):
    """A real ActiveMQ broker, STOMP on 127.0.0.1, started once per session (spoolq/testbed/activemq.py)."""
    from spoolq.testbed.activemq import ActiveMQ

    yield from _started(ActiveMQ, tmp_path_factory.mktemp("activemq"))


@pytest.fixture(scope="session")
def broker(request):
    """The broker a shipping test talks to: RabbitMQ, or each product of ``tests.brokers.EACH_BROKER``.

    Each product is started once per session, whichever tests ask for it.
    """
    return request.getfixturevalue(getattr(request, "param", "rabbitmq"))


@pytest.fixture(autouse=True)
def _broker_passcode(monkeypatch):
    """The test broker's passcode reaches configurations through the environment, never a file."""
    monkeypatch.setenv("SPOOLQ_TEST_PASSCODE", "guest")


@pytest.fixture
def watchers(root_dir: Path, tmp_path: Path):
    """``watchers(*args)`` starts `spoolq watch`; every one is killed at the end."""
    from watch_helpers import Watcher

    started: list[Watcher] = []

    def start(*args: str) -> Watcher:
        watcher = Watcher(root_dir, *args, log=tmp_path / f"watch{len(started)}.log")
        started.append(watcher)
        return watcher

    yield start
    for watcher in started:
        watcher.close()
