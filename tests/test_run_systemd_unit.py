"""The systemd unit template in scripts/ is one systemd accepts, with the settings run relies on."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent.parent / "scripts" / "spoolq@.service"


def unit_settings() -> dict[str, list[str]]:
    """Each key's values, in order (a key such as ExecReload may be given more than once)."""
    settings: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            settings.setdefault(key, []).append(value)
    return settings


def test_unit_declares_notify_reload_and_a_single_drain_signal():
    settings = unit_settings()
    assert settings["Type"] == ["notify"]
    assert settings["ExecStart"] == ["/usr/bin/spoolq -c /etc/spoolq/%i.toml run"]
    # The file is checked first: a reload that would be refused fails `systemctl reload`.
    assert settings["ExecReload"] == [
        "/usr/bin/spoolq -c /etc/spoolq/%i.toml check",
        "/bin/kill -HUP $MAINPID",
    ]
    assert settings["KillSignal"] == ["SIGTERM"]
    assert settings["KillMode"] == ["mixed"]  # the components must not get SIGTERM twice
    assert int(settings["TimeoutStopSec"][0]) > 0


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_finds_nothing_to_complain_about(tmp_path):
    text = UNIT.read_text().replace("/usr/bin/spoolq", f"{sys.executable} -m spoolq")
    (tmp_path / "spoolq@.service").write_text(text)
    (tmp_path / "spoolq@test.service").symlink_to("spoolq@.service")
    result = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "spoolq@test.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_unit_creates_spools_that_only_the_spoolq_user_can_write():
    assert unit_settings()["UMask"] == ["0027"]
