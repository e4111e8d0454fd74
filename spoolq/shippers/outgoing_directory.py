"""A plain directory of files to send (APEL SSM's ``path_type = directory`` store), fed into the spool.

``ssmsend`` sends every regular file of such a directory, oldest first,
waits for the broker's receipt and removes it; it sends files as they are
when it runs (from cron), whatever their writer is doing.  A shipper with
``dropbox = "DIR"`` keeps SSM's contract (any file name, every file sent
once, removed only once the broker has it) and never sends a file half
written: each *complete* file is moved into the shipper's spool by one
rename (:class:`spoolq.watcher.dropbox.Dropbox`), and sent from there like
any element.  A file is complete when its writer closed it or renamed it
in, or, for a file already there when the shipper starts, when it has not
been written for ``SETTLE_SECONDS``.  A rename cannot lose or double a file:
it is in the directory or in the spool, never both, never neither.

What differs from ``ssmsend`` (docs/apel-ssm.md): names starting with ``.``
or ending in ``.tmp`` or ``.part`` are left until renamed, as a writer's
temporaries; the ``empa-id`` sent is the spool element's name, which the
shipper logs beside the file's name when it moves it.  The directory must be
on the spool root's filesystem.
"""

from __future__ import annotations

import logging
import os
import threading

from spoolq.errors import ConfigError
from spoolq.spool import Spool
from spoolq.watcher.dropbox import Dropbox

SETTLE_SECONDS = 2.0


class OutgoingDirectory:
    """Moves the complete files of ``path`` into ``spool`` in a thread, from :meth:`start` to :meth:`stop`."""

    def __init__(self, path: str, spool: Spool, name: str):
        os.makedirs(spool.path, exist_ok=True)
        os.makedirs(path, exist_ok=True)
        if os.stat(path).st_dev != os.stat(spool.path).st_dev:
            raise ConfigError(
                f"shippers.{name}.dropbox: {path} is not on the filesystem of the spool {spool.path}:"
                " files are moved by rename; put the spool root on the same filesystem"
            )
        self.dropbox = Dropbox(path, spool, settle=SETTLE_SECONDS)
        self.dropbox.log_level = logging.INFO  # pairs the file's name with the empa-id sent
        thread_name = f"shipper-{name}-directory"
        self._thread = threading.Thread(target=self.dropbox.run, name=thread_name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.dropbox.stop()
        self._thread.join(30)
