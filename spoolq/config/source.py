"""The bytes of a configuration file: read once, and handed down to the processes that run it.

``spoolq run`` validates the file, checks its handlers and applies it; its
children (components, shippers, the check) must then run what it applied, not
whatever the file holds when they start.  A component that crashes an hour
after the operator began editing the file, before any reload, would otherwise
come back with half-edited settings, or not at all if the file is invalid
just then.  So the supervisor hands each child the bytes it applied, in an
anonymous memory file (``memfd``) the child inherits, named by
``$SPOOLQ_CONFIG_FD``; the child still names the file with ``-c`` (relative
paths and error messages refer to it) and reads the bytes instead of the file.
"""

from __future__ import annotations

import os

from spoolq.errors import ConfigError

CONFIG_FD_ENV = "SPOOLQ_CONFIG_FD"


def read_bytes(path: str) -> bytes:
    """The configuration file's bytes; :class:`ConfigError` if it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def hand_down(text: bytes) -> int:
    """Parent side: a new descriptor of an anonymous file holding ``text``, for ``pass_fds``.

    The caller closes it once the child has started.
    """
    fd = os.memfd_create("spoolq-config", os.MFD_CLOEXEC)
    try:
        view = memoryview(text)
        while view:
            view = view[os.write(fd, view) :]
        os.lseek(fd, 0, os.SEEK_SET)
    except OSError:
        os.close(fd)
        raise
    return fd


def take_handed_down() -> bytes | None:
    """Child side: the bytes the supervisor handed down, or ``None`` when it handed none.

    Read once: the variable is removed and the descriptor closed, so that the
    processes this one starts (an external-command handler) see neither.
    """
    fd_text = os.environ.pop(CONFIG_FD_ENV, "")
    if not fd_text.isdigit():
        return None
    fd = int(fd_text)
    chunks = []
    try:
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
    except OSError as exc:
        what = f"cannot read the configuration: {exc.strerror}"
        raise ConfigError(f"${CONFIG_FD_ENV}={fd_text}: {what}") from None
    finally:
        try:
            os.close(fd)
        except OSError:
            pass
    return b"".join(chunks)
