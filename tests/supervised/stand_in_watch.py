"""A small component process for supervisor tests, used until ``spoolq watch`` is available.

It behaves as a component must toward its supervisor: serves its spool (each
message answered into ``<name>_reply`` with the request id as correlation-id,
the body suffixed with the component name; a body
``sleep N`` takes N seconds), reports ready on $SPOOLQ_READY_FD,
drains on SIGTERM and exits 0.

usage: stand_in_watch.py CONFIG ROOT NAME
"""

from __future__ import annotations

import signal
import sys
import time

from spoolq.child_process import report_ready
from spoolq.config import load_config
from spoolq.root import SpoolRoot

stopping = False


def on_term(signum, frame):
    global stopping
    stopping = True


def main(config_path: str, root_path: str, name: str) -> int:
    signal.signal(signal.SIGTERM, on_term)
    component = load_config(config_path).component(name)
    root = SpoolRoot(root_path)
    spool = root.spool(component.spool)
    replies = root.spool(component.reply_spool or f"{name}_reply")
    report_ready()
    while not stopping:
        for claim in spool.claims():
            message = claim.message()
            body = message.body if isinstance(message.body, str) else message.body.decode()
            if body.startswith("sleep "):  # a long handler, for drain and force tests
                time.sleep(float(body.split()[1]))
            replies.put(message.reply(None, f"{body} by {name}"))
            claim.ack()
            if stopping:
                break
        time.sleep(0.02)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
