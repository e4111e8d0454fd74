"""The real APEL SSM 4.0.0, for the interop and drop-in tests: its virtual environment and its files.

The SSM is the unmodified one of ``../shared/peers/apel-ssm`` (from the
repository's root), installed once per test run into its own virtual
environment from the package index (``stomp.py==4.1.24`` and the rest, as
its README asks).  Where that folder is absent the tests using it are skipped.
The ``ssm`` fixture is registered in ``conftest.py``, so one build serves
every module.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dirq.queue import Queue

from tests.waiting import wait_until

#: The good messages each direction carries: APEL records, one of 1 MiB, and UTF-8 text.
ORDINARY = [
    f"APEL-summary-job-message: v0.3\nSite: SITE-{n}\nMonth: 3\nYear: 2026\nNumberOfJobs: {n}\n%%\n".encode()
    for n in range(100)
]
BIG = b"".join(b"APEL record %051d\n" % n for n in range(16384))  # 1 MiB: 16384 lines of 64 bytes
UTF8 = [f"Site: Zürich-{n}, Ελλάδα, 東京 ✓\n%%\n".encode() for n in range(5)]

REPO = Path(__file__).resolve().parent.parent
SSM_SOURCE = REPO.parent / "shared" / "peers" / "apel-ssm"
SSM_REQUIREMENTS = [
    "stomp.py==4.1.24",
    "python-daemon",
    "dirq",
    "pyopenssl<23.3.0",
    "cryptography<41.0.0",
    "setuptools",
]
QSCHEMA = {"body": "string", "signer": "string", "empaid": "string?"}  # SSM's incoming store
REJECT_SCHEMA = {"body": "string", "signer": "string?", "empaid": "string?", "error": "string"}


@pytest.fixture(scope="session")
def ssm(tmp_path_factory) -> Path:
    """The real SSM's ``bin`` directory, in a virtual environment of its own."""
    if not SSM_SOURCE.is_dir():
        pytest.skip(f"APEL SSM not found at {SSM_SOURCE} (the peers folder next to the repository)")
    home = tmp_path_factory.mktemp("apel-ssm")
    venv, work = home / "venv", home / "src"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *SSM_REQUIREMENTS], check=True, timeout=600)
    shutil.copytree(SSM_SOURCE, work)
    shutil.copy(work / "bin" / "receiver.py", work / "bin" / "ssmreceive")  # as its packaging expects
    shutil.copy(work / "bin" / "sender.py", work / "bin" / "ssmsend")
    shutil.copy(work / "scripts" / "apel-ssm.logrotate", work / "conf" / "apel-ssm")
    shutil.copy(work / "README.md", work / "apel-ssm")
    subprocess.run([*pip, "--no-deps", str(work)], check=True, timeout=300, cwd=work)
    return venv / "bin"


def ssm_config(path: Path, role: str, broker, queue: str, cred, ca_dir, store: Path, **extra) -> Path:
    """An SSM ``sender.cfg``/``receiver.cfg`` for the test broker (STOMP, no TLS, no BDII)."""
    messaging = {"destination": queue, "path": str(store), **extra.pop("messaging", {})}
    certificates = {"certificate": str(cred.cert), "key": str(cred.key), "capath": str(ca_dir)}
    sections = {
        role: {"protocol": "STOMP"},
        "broker": {"host": "127.0.0.1", "port": str(broker.stomp_port), "use_ssl": "false"},
        "certificates": {**certificates, **extra.pop("certificates", {})},
        "messaging": messaging,
        "logging": {"logfile": str(path.with_suffix(".log")), "level": "DEBUG", "console": "false"},
        **extra,
    }
    if role == "receiver":
        sections["certificates"]["check_crls"] = "false"
    text = "".join(
        f"[{name}]\n" + "".join(f"{k}: {v}\n" for k, v in keys.items()) for name, keys in sections.items()
    )
    path.write_text(text)
    return path


def count_lost_and_doubled(sent: list[bytes], got: list[bytes]) -> tuple[int, int]:
    remaining = list(got)
    lost = 0
    for body in sent:
        if body in remaining:
            remaining.remove(body)
        else:
            lost += 1
    return lost, len(remaining)


def ssmsend(ssm: Path, config: Path) -> None:
    done = subprocess.run([str(ssm / "ssmsend"), "-c", str(config)], capture_output=True, timeout=300)
    log = config.with_suffix(".log")
    assert done.returncode == 0, (
        done.stderr.decode()[-2000:],
        log.read_text()[-3000:] if log.exists() else "",
    )


def start_ssmreceive(ssm: Path, config: Path, dns: Path, pidfile: Path) -> int:
    command = [str(ssm / "ssmreceive"), "-c", str(config), "-d", str(dns)]
    done = subprocess.run(command, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    wait_until(
        lambda: pidfile.exists() and pidfile.read_text().strip(), timeout=30, what="ssmreceive's pid file"
    )
    return int(pidfile.read_text().strip())


def stop(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def stored(incoming: Path, reject: Path) -> int:
    """How many messages SSM's incoming and reject stores hold together."""
    return len(read_store(incoming, QSCHEMA)) + len(read_store(reject, REJECT_SCHEMA))


def read_store(path: Path, schema: dict) -> list[dict]:
    """Every element of an SSM incoming or reject store, read with dirq's own ``Queue``."""
    if not path.exists():
        return []
    store = Queue(str(path), schema=schema)
    items = []
    for name in store:
        if store.lock(name):
            items.append(store.get(name))
            store.unlock(name)
    return items
