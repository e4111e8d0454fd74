"""Logging for the daemon commands (``run``, ``watch``): stderr, in a form journald reads.

Three formats, chosen by :func:`configure_logging`:

- under systemd (stderr is the journal stream named by ``$JOURNAL_STREAM``):
  ``<3>spoolq.supervisor: component pe exited`` -- the ``<N>`` prefix is the
  sd-daemon syslog priority, which journald turns into the entry's PRIORITY
  and strips; the journal adds the time itself;
- elsewhere: ``2026-01-02 03:04:05,678 ERROR spoolq.supervisor: component pe exited``;
- ``--log-json``: one JSON object per line, ``{"time", "level", "logger",
  "message"}`` plus ``"exception"`` (the traceback) when there is one.

Both settings fall back to ``SPOOLQ_LOG_JSON`` / ``SPOOLQ_LOG_LEVEL``, which is
how ``spoolq run`` hands its choice to the components it starts.
"""

from __future__ import annotations

import json as jsonlib
import logging
import os
import sys
from datetime import UTC, datetime

JSON_ENV = "SPOOLQ_LOG_JSON"
LEVEL_ENV = "SPOOLQ_LOG_LEVEL"
LEVELS = ("debug", "info", "warning", "error", "critical")
# sd-daemon(3) priorities: <3> error ... <7> debug
_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}


class JournalFormatter(logging.Formatter):
    """``<priority>logger: message``; journald adds time and process itself."""

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        priority = _PRIORITY.get(record.levelno, 6)
        # Every line of a multi-line record (a traceback) carries the prefix.
        return "\n".join(f"<{priority}>{line}" for line in super().format(record).splitlines())


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return jsonlib.dumps(entry, ensure_ascii=False)


def stderr_is_journal() -> bool:
    """Whether stderr is connected to journald (``$JOURNAL_STREAM`` = ``dev:inode`` of it)."""
    stream = os.environ.get("JOURNAL_STREAM", "")
    try:
        device, inode = (int(part) for part in stream.split(":"))
        info = os.fstat(sys.stderr.fileno())
    except (ValueError, OSError, AttributeError):
        return False
    return (info.st_dev, info.st_ino) == (device, inode)


def configure_logging(json: bool | None = None, level: str | None = None) -> None:
    """Send all logging to stderr in the chosen format (idempotent).

    ``None`` takes the value from the environment (``SPOOLQ_LOG_JSON=1``,
    ``SPOOLQ_LOG_LEVEL=debug``), else plain/journald lines at ``info``.
    """
    if json is None:
        json = os.environ.get(JSON_ENV, "") not in ("", "0", "false", "no")
    level = (level or os.environ.get(LEVEL_ENV) or "info").lower()
    if level not in LEVELS:
        level = "info"
    handler = logging.StreamHandler(sys.stderr)
    if json:
        handler.setFormatter(JsonFormatter())
    elif stderr_is_journal():
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.spoolq_configured = True  # marks ours, so that a second call replaces it
    # The root logger: handler plugins and libraries log through the same stream.
    logger = logging.getLogger()
    for old in list(logger.handlers):
        if getattr(old, "spoolq_configured", False):
            logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(level.upper())


def environment_for_children(json: bool, level: str) -> dict[str, str]:
    """The variables that make a child process log as this one does."""
    return {JSON_ENV: "1" if json else "0", LEVEL_ENV: level}
