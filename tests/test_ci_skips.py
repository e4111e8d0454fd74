"""Under CI a skip not on the allow-list fails the run; elsewhere, and when allowed, it stays a skip."""

import subprocess
import sys

from tests.conftest import REPO, cli_env

SKIPPING = """
import pytest

def test_needs_a_tmpfs():
    pytest.skip("cannot mount a tmpfs here: permission denied")

def test_overflow():
    pytest.skip("max_queued_events is 1000000: too many elements to overflow it in a test")

@pytest.mark.skipif(True, reason="systemd-analyze is not installed")
def test_unit():
    pass
"""


def run_pytest(tmp_path, **env) -> subprocess.CompletedProcess:
    (tmp_path / "test_skipping.py").write_text(SKIPPING)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.ci_skips", "-p", "no:cacheprovider", "-q", "-rfs",
         "--rootdir", str(tmp_path), str(tmp_path / "test_skipping.py")],
        capture_output=True, text=True, cwd=REPO, env=cli_env(PYTHONPATH=str(REPO), **env), timeout=120,
    )  # fmt: skip


def test_under_ci_an_unexplained_skip_fails_and_an_allowed_one_does_not(tmp_path):
    result = run_pytest(tmp_path, CI="true")
    assert result.returncode == 1, result.stdout
    assert "1 failed, 1 skipped, 1 error" in result.stdout, "a skipif fails in its setup: an error"
    assert "not on the allow-list" in result.stdout and "cannot mount a tmpfs" in result.stdout


def test_outside_ci_skips_stay_skips(tmp_path):
    result = run_pytest(tmp_path, CI="")
    assert result.returncode == 0 and "3 skipped" in result.stdout, result.stdout
