"""The external-command handler: any program in any language consumes messages.

Options: ``command`` (a list of arguments, or a string split like a shell
would), ``timeout`` (seconds, default 60), ``cwd`` (optional).

Contract with the program:

* the body is on its standard input (bytes as they are);
* each header is an environment variable ``SPOOLQ_HEADER_<NAME>``, the name
  upper-cased with ``-`` spelled ``_`` (``reply-to`` -> ``SPOOLQ_HEADER_REPLY_TO``);
  ``SPOOLQ_COMPONENT``, ``SPOOLQ_SPOOL`` and ``SPOOLQ_ATTEMPT`` say where it runs;
* exit 0: done; a non-empty standard output is the reply body;
* exit 75 (``EX_TEMPFAIL``): try again later (standard error is the reason);
* any other exit: park the message with the exit code and standard error;
* past ``timeout`` the whole process group is killed and the attempt fails
  (retried until the component's last attempt, then parked).
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
from collections.abc import Mapping
from typing import Any

from spoolq.errors import ConfigError, HandlerError, Reject, Retry
from spoolq.handlers.base import Context, Handler
from spoolq.message import Message

EX_TEMPFAIL = 75
_REASON_LIMIT = 4000  # bytes of standard error kept as a reason


class CommandTimeout(HandlerError):
    """The command ran past its timeout and was killed."""


class CommandHandler(Handler):
    name = "command"

    def __init__(self, options: Mapping[str, Any] | None = None):
        super().__init__(options)
        command = self.options.get("command")
        if isinstance(command, str):
            command = shlex.split(command)
        if not command or not all(isinstance(arg, str) for arg in command):
            raise ConfigError("handler 'command': option 'command' must be a program and its arguments")
        self.command: list[str] = command
        self.timeout = float(self.options.get("timeout", 60))
        self.cwd = self.options.get("cwd")

    def handle(self, message: Message, context: Context) -> Message | None:
        process = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self._environment(message, context),
            cwd=self.cwd,
            start_new_session=True,  # its own process group, so a timeout kills it all
        )
        try:
            out, err = process.communicate(message.body_bytes, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process)
            process.communicate()
            raise CommandTimeout(f"{self.command[0]}: killed after {self.timeout:g} s timeout") from None
        reason = err[-_REASON_LIMIT:].decode("utf-8", "replace").strip()
        if process.returncode == EX_TEMPFAIL:
            raise Retry(reason or f"{self.command[0]} asked to retry (exit 75)")
        if process.returncode != 0:
            raise Reject(f"{self.command[0]} exited with {process.returncode}: {reason or '(no stderr)'}")
        if not out:
            return None
        try:
            body: str | bytes = out.decode("utf-8")
        except UnicodeDecodeError:
            body = out
        return message.reply(None, body)

    def _environment(self, message: Message, context: Context) -> dict[str, str]:
        env = dict(os.environ)
        for key in [k for k in env if k.startswith("SPOOLQ_HEADER_")]:
            del env[key]
        for key, value in message.header.items():
            env["SPOOLQ_HEADER_" + re.sub(r"[^A-Z0-9_]", "_", key.upper())] = value
        env["SPOOLQ_COMPONENT"] = context.component
        env["SPOOLQ_SPOOL"] = context.spool
        env["SPOOLQ_ATTEMPT"] = str(context.attempt)
        return env


def _kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
