"""Under CI, a test that skips for a reason not on this allow-list fails instead.

A skipped test is a guarantee nobody checked: the disk-full tests need a tmpfs
they can mount, the placement tests an ext4 temporary folder, the unit test
``systemd-analyze``.  ``.ci/run`` installs and mounts what they need and sets
``CI=true``; there, any skip not explained below is a failure, so a green run
cannot hide one.  Elsewhere (a laptop without root) skips stay skips.

The hook is imported by ``tests/conftest.py``; it is a plugin of its own
(``-p tests.ci_skips``) so that it can be tested on a throwaway test file.
"""

from __future__ import annotations

import os
import re

import pytest

#: Skip reasons (regular expressions, searched) that CI accepts, each with why.
ALLOWED = {
    r"max_queued_events is \d+: too many elements": (
        "the kernel's inotify queue limit is the machine's own setting; above 100,000 the overflow "
        "test would have to write more files than a test should"
    ),
}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


def allowed(reason: str) -> bool:
    return any(re.search(pattern, reason) for pattern in ALLOWED)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and in_ci():
        reason = skip_reason(report)
        if not allowed(reason):
            report.outcome = "failed"
            report.longrepr = (
                f"skipped under CI for a reason not on the allow-list (tests/ci_skips.py): {reason}"
            )
