"""Progress lines: redrawn in place with ``\\r`` on a terminal, plain whole lines anywhere else.

A command reports progress by saying text that starts with ``\\r`` (an
update of the current line) and ends it by saying ``"\\n"``.  On a terminal
the updates redraw one line; into a pipe or a log file they would pile up
into one endless line, so there only the last update of each line is written,
as a line of its own.  :meth:`ProgressLines.close` ends a line left open (by
a failure, say): the output never ends half a line.
"""

from __future__ import annotations

from typing import TextIO


class ProgressLines:
    """Writes a command's progress to ``stream`` as its kind of output deserves."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.on_terminal = stream.isatty()
        self._open: str | None = None  # the progress line being drawn (terminal) or held (elsewhere)

    def say(self, text: str) -> None:
        if text.startswith("\r"):
            if self.on_terminal:
                width = len(self._open or "")
                self._write(text + " " * max(0, width - len(text)))
            self._open = text
            return
        if self._open is not None and not self.on_terminal:
            self._write(self._open.lstrip("\r") + ("" if text.startswith("\n") else "\n"))
        self._open = None
        self._write(text)

    def close(self) -> None:
        """End a progress line still open, so that the output ends with a whole line."""
        if self._open is not None:
            self.say("\n")

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()
