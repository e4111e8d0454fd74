"""PanDA message-processor plugins for the tests, run by PanDA's own message processors (run_processors.py).

``Recorder`` writes each message's ``data`` (what a PanDA plugin is given) to
the JSON-lines file ``params["record"]`` and, with ``params["reply"]``,
returns a reply that PanDA sends to the processor's ``out_queue``: JSON with a
``"body"`` key, as PanDA's messages often have.  ``Producer`` has no
``in_queue``: PanDA calls it with ``None`` and sends what it returns, here
``params["count"]`` messages, then nothing.  (Not a test module: pytest
collects only ``test_*.py``.)
"""

from __future__ import annotations

import json
import threading
import time

from pandacommon.pandamsgbkr.msg_processor import SimpleMsgProcPluginBase

_lock = threading.Lock()


class Recorder(SimpleMsgProcPluginBase):
    def initialize(self) -> None:
        self.seen = 0

    def process(self, msg_obj):
        data = msg_obj.data
        with _lock:
            self.seen += 1
            tag = self.seen
            reply = None
            if self.params.get("reply"):
                reply = json.dumps({"body": f"seen {len(data)} characters", "msg_type": "reply", "tag": tag})
            with open(self.params["record"], "a", encoding="utf-8") as record:
                record.write(json.dumps({"data": data, "type": type(data).__name__, "reply": reply}) + "\n")
        return reply


class Producer(SimpleMsgProcPluginBase):
    def initialize(self) -> None:
        self.sent = 0

    def process(self, msg_obj):
        if self.sent >= int(self.params["count"]):
            time.sleep(0.5)  # all sent: PanDA calls again at once, so idle here rather than spin
            return None
        self.sent += 1
        return f"{self.params['prefix']} {self.sent} Zürich"
