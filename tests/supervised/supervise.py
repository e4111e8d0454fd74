"""``spoolq run`` with the stand-in component process, until ``spoolq watch`` is available.

usage: supervise.py CONFIG ROOT
"""

from __future__ import annotations

import os
import sys

from spoolq.config import load_config
from spoolq.logs import configure_logging
from spoolq.supervisor import Supervisor

HERE = os.path.dirname(os.path.abspath(__file__))


def main(config_path: str, root: str) -> int:
    configure_logging(json=False, level="info")

    def command_for(component):
        return [sys.executable, os.path.join(HERE, "stand_in_watch.py"), config_path, root, component.name]

    supervisor = Supervisor(
        load_config(config_path),
        reload=lambda: load_config(config_path),
        command_for=command_for,
        restart_delay=0.2,
        restart_cap=1.0,
    )
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
