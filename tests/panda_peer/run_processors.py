"""Runs PanDA's own message processors (panda-common's MsgProcAgentBase) until SIGTERM.

Run with the Python of a virtual environment where panda-common is installed:
``python run_processors.py CONFIG.json READY_FILE``.  The plugins it loads (recorder.py)
sit beside this file.  ``PANDA_HOME`` must name a directory holding
``etc/panda/panda_common.cfg`` (PanDA's logger reads it at import).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

MAX_RUN = 900.0  # seconds: a test that forgets to stop them does not leave it behind for long


def main() -> None:
    config, ready = sys.argv[1], Path(sys.argv[2])
    from pandacommon.pandamsgbkr.msg_processor import MsgProcAgentBase

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    processors = MsgProcAgentBase(config)
    processors.start()
    ready.write_text("started\n")
    stop.wait(MAX_RUN)
    processors.stop(block=False)
    processors.join(30)
    os._exit(0)  # its proxies' threads are not daemons: leave without waiting for them


if __name__ == "__main__":
    main()
