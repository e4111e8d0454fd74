"""Handlers used by the watcher tests (imported by `spoolq watch` as tests.watch_handlers:NAME).

``record`` appends the message id (or body) to the file named by option
``record`` with one O_APPEND write, so that several processes can share it.
"""

from __future__ import annotations

import os
import time

from spoolq.errors import Retry
from spoolq.handlers.base import Context
from spoolq.message import Message


def _append(context: Context, line: str) -> None:
    fd = os.open(context.options["record"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def record(message: Message, context: Context) -> None:
    """Note the message, after an optional ``sleep`` (seconds) before and ``started`` marker."""
    started = context.options.get("started")
    if started:
        fd = os.open(started, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.write(fd, f"{message.message_id}\n".encode())
        os.close(fd)
    time.sleep(float(context.options.get("sleep", 0)))
    _append(context, message.message_id or repr(message.body))


def record_body(message: Message, context: Context) -> None:
    _append(context, f"{type(message.body).__name__}:{message.body_bytes.hex()}")


def retry_twice(message: Message, context: Context) -> Message:
    """Ask for a retry on the first two attempts, then answer."""
    if context.attempt < 3:
        raise Retry(f"not yet (attempt {context.attempt})", delay=0.05)
    return message.reply("DONE", f"attempt {context.attempt}")


def reply_unwritable_to_poison(message: Message, context: Context) -> Message:
    """Answer ``poison`` with a body no UTF-8 can hold (a lone surrogate), anything else with itself."""
    return message.reply("ANSWER", "\ud800" if message.body == "poison" else message.body)


def always_fails(message: Message, context: Context) -> None:
    raise RuntimeError("this handler always fails")


def cache_written(message: Message, context: Context) -> Message:
    context.emit("audit", Message.new("AUDIT", message.body))
    return message.reply("CACHE_WRITTEN_ACK", message.body)


def dies_on_poison(message: Message, context: Context) -> None:
    """Take the whole process down, as a segfault would, on the body ``poison``; else record."""
    if message.body == "poison":
        os._exit(1)
    _append(context, message.message_id or repr(message.body))


def retry_in_an_hour_once(message: Message, context: Context) -> Message:
    """Ask to be tried again in an hour on the first attempt, then answer."""
    if context.attempt < 2:
        raise Retry("come back in an hour", delay=3600)
    return message.reply("DONE", f"attempt {context.attempt}")
